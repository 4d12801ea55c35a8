"""Load-test scenarios: plain Locust user classes, one registry to add to.

Ids are drawn from the seeded data: ``LOADTEST_CLASSES`` and ``LOADTEST_STUDENTS``
(set by ``flask loadtest`` from the database) bound the random ids. Bad input is
expected to answer 400/404; it is counted under its own name, and only an
unexpected status counts as a failure. Every request carries the run id header,
so the monitoring stores can tell this run's requests apart.
"""
import os
import random

from locust import HttpUser, task

from webapp.loadtest import RUN_HEADER

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


class RosterOnlyUser(SchoolUser):
    """Only /roster: the JSON endpoint the debug toolbar cannot show."""

    tasks = [SchoolUser.roster]


SCENARIOS = {
    "default": [SchoolUser],
    "roster": [RosterOnlyUser],
}
