"""Background jobs end to end: the real Redis, a real ``flask worker`` process, the real
grading service process.

Each test gets a queue of its own (``flask-perf-test-<session>-<n>``) on the local
Redis, so a user's queue is never touched, and every key of it is deleted after.
"""
import itertools
import os
import uuid

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import create_engine, select

from tests.support import free_port, run_flask, start_grading_service
from webapp.grading.job_runs import job_run

REDIS_URL = "redis://127.0.0.1:6379/0"
SESSION = uuid.uuid4().hex[:10]
_numbers = itertools.count(1)
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def redis_connection():
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError:
        connection.close()
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not answering on 127.0.0.1:6379 in CI")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    yield connection
    connection.close()


@pytest.fixture
def jobs_queue(redis_connection):
    """A queue name of this test only; its jobs, registries and results are deleted after."""
    name = f"flask-perf-test-{SESSION}-{next(_numbers)}"
    yield name
    queue = Queue(name, connection=redis_connection)
    ids = set(queue.get_job_ids())
    for registry in (queue.started_job_registry, queue.finished_job_registry,
                     queue.failed_job_registry, queue.scheduled_job_registry,
                     queue.deferred_job_registry, queue.canceled_job_registry):
        ids.update(registry.get_job_ids())
    queue.delete(delete_jobs=True)
    for pattern in (f"*{name}*", *(f"*{job_id}*" for job_id in ids)):
        keys = list(redis_connection.scan_iter(match=pattern))
        if keys:
            redis_connection.delete(*keys)
    for key in redis_connection.scan_iter(match="rq:worker:*", _type="hash"):
        if redis_connection.hget(key, "queues") == name.encode():  # our stopped workers
            redis_connection.delete(key)


@pytest.fixture(scope="module")
def grading(tmp_path_factory):
    service = start_grading_service(tmp_path_factory.mktemp("grading"))
    yield service
    service.stop()


@pytest.fixture
def jobs_app(app, jobs_queue, grading):
    app.config.update(REDIS_URL=REDIS_URL, JOBS_QUEUE=jobs_queue, GRADING_SERVICE_URL=grading.url,
                      JOBS_RETRY_MAX=2, JOBS_RETRY_INTERVALS_S=[0])
    return app


@pytest.fixture
def worker_dir(tmp_path):
    return tmp_path / "worker-monitoring"


def run_worker(app, instance_path, worker_dir, **overrides):
    """``flask --app wsgi worker --burst`` in its own process, configured like ``app``."""
    env = {"APP_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "APP_REDIS_URL": app.config["REDIS_URL"], "APP_JOBS_QUEUE": app.config["JOBS_QUEUE"],
           "APP_GRADING_SERVICE_URL": app.config["GRADING_SERVICE_URL"],
           "APP_PERF_STORE_DIR": str(worker_dir), **overrides}
    result = run_flask(instance_path, "testing", "worker", "--burst", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def job_rows(worker_dir) -> list:
    engine = create_engine(f"sqlite:///{worker_dir / 'jobs.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(job_run).order_by(job_run.c.id)))
    finally:
        engine.dispose()


def test_a_worker_process_runs_the_job_and_get_shows_its_result(jobs_app, make_app, instance_path,
                                                                 worker_dir):
    client = jobs_app.test_client()
    posted = client.post("/class_report/jobs?class_id=3")
    assert posted.status_code == 202
    job = posted.get_json()
    assert posted.headers["Location"] == job["url"] == f"/class_report/jobs/{job['id']}"
    assert (job["status"], job["class_id"]) == ("queued", 3)
    assert client.get(job["url"]).get_json()["status"] == "queued"

    run_worker(jobs_app, instance_path, worker_dir)

    done = client.get(job["url"]).get_json()
    assert done["status"] == "finished"
    assert done["result"] == client.get("/class_report?class_id=3").get_json()
    assert done["enqueued_at"] <= done["started_at"] <= done["ended_at"]
    [row] = job_rows(worker_dir)
    assert (row.job_id, row.status, row.function) == (job["id"], "finished",
                                                      "webapp.grading.jobs.class_report_job")
    assert row.queue_wait_ms >= 0 and row.run_ms > 0 and row.error is None
    assert row.app_version == jobs_app.config["PERF_VERSION"]

    report = make_app("bare", PERF_STORE_DIR=str(worker_dir),
                      SQLALCHEMY_DATABASE_URI=jobs_app.config["SQLALCHEMY_DATABASE_URI"])
    output = report.test_cli_runner().invoke(args=["perf", "report"]).output
    section = output.split("== Background jobs", 1)[1].splitlines()
    [line] = [x for x in section if x.startswith("class_report_job")]
    assert line[21:49].strip() == jobs_app.config["PERF_VERSION"][:28].strip()
    assert line[50:].split()[:3] == ["1", "0", "0"]  # attempts, retried, failed


@sqlite_only
def test_a_failing_grading_call_is_retried_then_failed_visibly(jobs_app, instance_path, worker_dir):
    client = jobs_app.test_client()
    url = client.post("/class_report/jobs?class_id=3").get_json()["url"]
    absent = f"http://127.0.0.1:{free_port()}"

    run_worker(jobs_app, instance_path, worker_dir, APP_GRADING_SERVICE_URL=absent)

    response = client.get(url)
    job = response.get_json()
    assert (job["status"], job["retries_left"]) == ("failed", 0)
    assert job["error"] == ("webapp.grading.client.GradingUnavailable: the grading service at "
                            f"{absent} is unreachable (connection refused or reset)")
    assert "Traceback" not in response.get_data(as_text=True) and "result" not in job
    rows = job_rows(worker_dir)
    assert [r.status for r in rows] == ["retried", "retried", "failed"]
    assert all("is unreachable" in r.error for r in rows)


@sqlite_only
def test_redis_down_is_a_503_and_what_was_queued_stays(jobs_app, make_app, redis_connection,
                                                       instance_path, worker_dir):
    client = jobs_app.test_client()
    ids = [client.post(f"/class_report/jobs?class_id={c}").get_json()["id"] for c in (1, 2)]
    closed = f"redis://127.0.0.1:{free_port()}/0"
    down_app = make_app("bare", SQLALCHEMY_DATABASE_URI=jobs_app.config["SQLALCHEMY_DATABASE_URI"],
                        REDIS_URL=closed, JOBS_QUEUE=jobs_app.config["JOBS_QUEUE"])
    down = down_app.test_client()

    response = down.post("/class_report/jobs?class_id=1")
    assert response.status_code == 503 and response.is_json
    body = response.get_json()
    assert body["error"] == "service_unavailable"
    assert body["message"].startswith(f"the job queue (Redis at {closed}) is unavailable")
    assert body["message"].endswith("nothing was queued, try again later")
    response = down.get(f"/class_report/jobs/{ids[0]}")
    assert response.status_code == 503 and "queued jobs are kept" in response.get_json()["message"]
    worker = down_app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert worker.exit_code == 1
    assert f"cannot reach Redis at {closed} (REDIS_URL)" in worker.output

    queue = Queue(jobs_app.config["JOBS_QUEUE"], connection=redis_connection)
    assert sorted(queue.get_job_ids()) == sorted(ids)  # the failed attempts lost nothing
    run_worker(jobs_app, instance_path, worker_dir)
    assert [client.get(f"/class_report/jobs/{i}").get_json()["status"] for i in ids] == ["finished"] * 2


@sqlite_only
@pytest.mark.parametrize("query", ["", "?class_id=abc", "?class_id=-1", "?class_id=0"])
def test_enqueue_with_a_bad_class_id_is_a_json_400(jobs_app, query):
    response = jobs_app.test_client().post(f"/class_report/jobs{query}")
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["parameter"] == "class_id"


@sqlite_only
def test_enqueue_of_an_unknown_class_is_a_json_404_and_queues_nothing(jobs_app, redis_connection):
    response = jobs_app.test_client().post("/class_report/jobs?class_id=99999")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "class 99999 does not exist"}
    assert Queue(jobs_app.config["JOBS_QUEUE"], connection=redis_connection).count == 0


@sqlite_only
def test_job_urls_malformed_is_400_unknown_is_404(jobs_app, redis_connection):
    client = jobs_app.test_client()
    for malformed in ("not-a-job", "1", uuid.uuid4().hex, str(uuid.uuid4()).upper()):
        response = client.get(f"/class_report/jobs/{malformed}")
        assert response.status_code == 400 and response.get_json()["parameter"] == "job_id"
    unknown = str(uuid.uuid4())
    response = client.get(f"/class_report/jobs/{unknown}")
    assert response.status_code == 404
    assert response.get_json()["message"] == f"job {unknown} does not exist (unknown or expired)"
    other = Queue(f"{jobs_app.config['JOBS_QUEUE']}-other", connection=redis_connection)
    foreign = other.enqueue("webapp.grading.jobs.class_report_job", 1)
    try:  # a job of another queue on the same Redis is not ours to show
        assert client.get(f"/class_report/jobs/{foreign.id}").status_code == 404
    finally:
        other.delete(delete_jobs=True)
        for key in redis_connection.scan_iter(match=f"*{foreign.id}*"):
            redis_connection.delete(key)
    response = client.get("/class_report/jobs")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"


@sqlite_only
def test_a_malformed_redis_url_is_a_clear_503_and_worker_error(app):
    app.config["REDIS_URL"] = "localhost:6379"  # no scheme
    response = app.test_client().post("/class_report/jobs?class_id=1")
    assert response.status_code == 503
    assert response.get_json()["message"].startswith("REDIS_URL is not a Redis URL")
    worker = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert worker.exit_code == 1 and "REDIS_URL is not a Redis URL" in worker.output
