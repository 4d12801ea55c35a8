"""The demo's locustfile: the school scenarios (``PERF_LOADTEST_LOCUSTFILE`` points here).

``flask --app wsgi perf loadtest --scenario NAME`` runs ``SCENARIOS[NAME]``
(``default`` without --scenario); plain ``locust -f webapp/locustfile.py`` runs
every class, as Locust does. Ids are drawn from the seeded data:
``LOADTEST_CLASSES`` and ``LOADTEST_STUDENTS`` (given by the demo's
``seed.loadtest_env``, registered with ``PerfState.add_loadtest_env``) bound the
random ids. Bad input is expected to answer 400/404; it is counted under its own
name, and only an unexpected status counts as a failure. Every request carries the
run id header (``LOADTEST_RUN``), so the monitoring stores can tell this run's
requests apart.

Nothing from ``webapp`` is imported: the users only speak HTTP, and the app's
modules (its database and HTTP clients) have no place in Locust's gevent-patched process.
"""
import math
import os
import random
import time

from locust import HttpUser, task

from flask_perf.loadtest import RUN_HEADER

BAD_IDS = ("abc", "-1", "0", str(10**30), "1.5")


class SchoolUser(HttpUser):
    """The default mix: /roster and /my_class, 1 request in 11 with a bad or unknown id."""

    abstract = False

    def on_start(self):
        self.classes = int(os.environ.get("LOADTEST_CLASSES", "1000"))
        self.students = int(os.environ.get("LOADTEST_STUDENTS", "10000"))
        self.client.headers[RUN_HEADER] = os.environ.get("LOADTEST_RUN", "manual")

    @task(5)
    def roster(self):
        self.client.get(f"/roster?class_id={random.randint(1, self.classes)}", name="/roster")

    @task(5)
    def my_class(self):
        self.client.get(f"/my_class?student_id={random.randint(1, self.students)}", name="/my_class")

    @task(1)
    def bad_input(self):
        if random.random() < 0.5:
            self._expect(f"/roster?class_id={random.choice(BAD_IDS)}", 400, "/roster [bad id → 400]")
        else:
            self._expect(f"/my_class?student_id={self.students + 1000}", 404,
                         "/my_class [unknown id → 404]")

    def _expect(self, url: str, status: int, name: str):
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code == status:
                response.success()
            else:
                response.failure(f"expected {status}, got {response.status_code}")


class RosterOnlyUser(HttpUser):
    """Only /roster: the JSON endpoint the debug toolbar cannot show. (Not a SchoolUser
    subclass: Locust adds a subclass's ``tasks`` to the inherited ones.)"""

    on_start = SchoolUser.on_start
    tasks = [SchoolUser.roster]


class ReadingUser(SchoolUser):
    """4 users in 5 of ``readwrite``: the default read mix."""

    weight = 4


class EnrollingUser(HttpUser):
    """1 user in 5 of ``readwrite``: enrolls a student in a class, reads the student's
    classes back (the write's cookie sends that read to the primary: it must show the new
    class), then removes the enrollment, so the data is the same after the run."""

    weight = 1
    on_start = SchoolUser.on_start

    @task
    def enroll_read_back_remove(self):
        ids = {"student_id": random.randint(1, self.students),
               "class_id": random.randint(1, self.classes)}
        with self.client.post("/enrollments", json=ids, name="/enrollments",
                              catch_response=True) as response:
            if response.status_code == 409:  # enrolled by the seed: nothing to undo
                response.request_meta["name"] = "/enrollments [already enrolled → 409]"
                response.success()
                return
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
                return
        with self.client.get(f"/my_class?student_id={ids['student_id']}",
                             name="/my_class [after write]", catch_response=True) as response:
            if f'/roster?class_id={ids["class_id"]}"' not in response.text:
                response.failure("the new enrollment is missing: read from a lagging replica?")
        self.client.delete("/enrollments", json=ids, name="/enrollments [DELETE]")


class ClassReportUser(HttpUser):
    """``class_report``: GET /class_report; each web request waits for every grading call."""

    on_start = SchoolUser.on_start

    @task
    def class_report(self):
        self.client.get(f"/class_report?class_id={random.randint(1, self.classes)}",
                        name="/class_report")


JOB_POLL_S = 0.25
JOB_DEADLINE_S = 300
job_end_to_end_ms: list[float] = []  # jobs this process saw finish
_reporting_envs: set[int] = set()


class ClassReportJobUser(HttpUser):
    """``class_report_jobs``: POST the report as a background job, poll its URL until done.

    Its web requests are what compares with ``class_report``. Each job's end-to-end
    time (POST sent → a poll answers "finished") is printed when the run stops; it is
    not a Locust request, so the dashboards' cross-check still counts only HTTP requests.
    """

    def on_start(self):
        SchoolUser.on_start(self)
        # flask loadtest's Environment has its own events, not locust.events: listen there
        if id(self.environment) not in _reporting_envs:
            _reporting_envs.add(id(self.environment))
            self.environment.events.test_stop.add_listener(_print_job_times)

    @task
    def class_report_job(self):
        started = time.monotonic()
        with self.client.post(f"/class_report/jobs?class_id={random.randint(1, self.classes)}",
                              name="/class_report/jobs", catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"expected 202, got {response.status_code}")
                return
            url = response.headers["Location"]
        while time.monotonic() - started < JOB_DEADLINE_S:
            time.sleep(JOB_POLL_S)  # gevent-patched: other users run meanwhile
            with self.client.get(url, name="/class_report/jobs/[id]", catch_response=True) as response:
                status = _json_field(response, "status")
                if status == "finished":
                    job_end_to_end_ms.append((time.monotonic() - started) * 1000)
                    return
                if status not in ("queued", "started", "scheduled", "deferred"):
                    response.failure(f"job {status or response.status_code}: "
                                     f"{_json_field(response, 'error') or ''}")
                    return


def _json_field(response, name: str):
    try:
        return response.json().get(name)
    except (ValueError, AttributeError):
        return None


def _print_job_times(**_kwargs):
    if not job_end_to_end_ms:
        return
    times = sorted(job_end_to_end_ms)
    job_end_to_end_ms.clear()  # test_stop can fire again on quit

    def nearest_rank(p: float) -> float:
        return times[max(1, math.ceil(p / 100 * len(times))) - 1]

    print(f"class_report jobs end to end (POST sent → poll sees finished; poll every "
          f"{JOB_POLL_S * 1000:.0f} ms): {len(times)} jobs, p50 {nearest_rank(50):.0f} ms, "
          f"p95 {nearest_rank(95):.0f} ms, max {times[-1]:.0f} ms", flush=True)


SCENARIOS = {
    "default": [SchoolUser],
    "roster": [RosterOnlyUser],
    "readwrite": [ReadingUser, EnrollingUser],
    "class_report": [ClassReportUser],
    "class_report_jobs": [ClassReportJobUser],
}
