"""The background-job form of the class report: an RQ queue on Redis.

Reads REDIS_URL, REDIS_TIMEOUT_S, JOBS_QUEUE, JOBS_TIMEOUT_S, JOBS_RESULT_TTL_S,
JOBS_RETRY_MAX and JOBS_RETRY_INTERVALS_S from ``app.config`` when first used.
The web side only enqueues and reads job state, and fails fast: when Redis cannot be
reached it raises :class:`QueueUnavailable` naming it (the route answers 503), and
whatever was queued before stays in Redis. ``flask worker`` (worker.py) runs the
jobs, each in an app context; a failed job is retried by RQ, a bounded number of
times, then kept in the queue's failed registry where ``GET`` shows its error.
"""
import contextlib
import re

from flask import current_app, has_app_context
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry
from rq.job import Job, JobStatus

from webapp.grading.report import build_class_report
from flask_perf.stores.engines import redacted_url

JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # RQ's uuid4


class QueueUnavailable(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def class_report_job(class_id: int) -> dict:
    """What the worker runs: the same report as ``GET /class_report``."""
    if not has_app_context():
        raise RuntimeError("class_report_job needs an app context: run `flask --app wsgi worker`")
    return build_class_report(class_id)


JOB_FUNCTION = f"{__name__}.class_report_job"


def redis_connection(app, patient: bool = False) -> Redis:
    """A client of REDIS_URL. The web side gives up soon (one retry, short timeouts: a
    quick 503). ``patient`` (the worker) has no read timeout: it blocks on the queue,
    and RQ's work loop reconnects by itself, with backoff, when Redis goes away."""
    timeout = float(app.config["REDIS_TIMEOUT_S"])
    options = {} if patient else {"socket_timeout": timeout, "retry": RedisRetry(NoBackoff(), 1)}
    try:
        return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=timeout, **options)
    except ValueError as exc:  # no redis://, rediss:// or unix:// scheme
        raise QueueUnavailable(f"REDIS_URL is not a Redis URL: {exc}") from None


class JobQueue:
    def __init__(self, app, connection: Redis | None = None):
        self.connection = connection or redis_connection(app)
        self.where = redacted_url(app.config["REDIS_URL"])
        self.queue = Queue(app.config["JOBS_QUEUE"], connection=self.connection)
        self.config = app.config

    @contextlib.contextmanager
    def _reaching_redis(self, consequence: str):
        try:
            yield
        except RedisError as exc:
            raise QueueUnavailable(f"the job queue (Redis at {self.where}) is unavailable: {exc}; "
                                   f"{consequence}") from None

    def enqueue_class_report(self, class_id: int) -> Job:
        retries, intervals = int(self.config["JOBS_RETRY_MAX"]), self.config["JOBS_RETRY_INTERVALS_S"]
        intervals = [int(i) for i in (intervals if isinstance(intervals, list | tuple) else [intervals])]
        with self._reaching_redis("nothing was queued, try again later"):
            return self.queue.enqueue(
                class_report_job, class_id,
                job_timeout=int(self.config["JOBS_TIMEOUT_S"]),
                result_ttl=int(self.config["JOBS_RESULT_TTL_S"]),
                failure_ttl=int(self.config["JOBS_RESULT_TTL_S"]),
                retry=Retry(max=retries, interval=intervals) if retries > 0 else None,
                description=f"class report of class {class_id}",
                meta={"app_version": self.config.get("PERF_VERSION")})

    def fetch(self, job_id: str) -> Job | None:
        """This queue's job ``job_id`` (None when unknown, expired or another queue's)."""
        with self._reaching_redis("queued jobs are kept, try again later"):
            job = self.queue.fetch_job(job_id)  # reads the whole job hash, status included
        ours = job is not None and job.func_name == JOB_FUNCTION and job.get_status(refresh=False)
        return job if ours else None

    def describe(self, job: Job) -> dict:
        """The job as the API shows it: state, times, and its result or its error."""
        status = job.get_status(refresh=False)
        info = {"id": job.id, "status": status.value, "class_id": job.args[0] if job.args else None,
                "enqueued_at": _iso(job.enqueued_at), "started_at": _iso(job.started_at),
                "ended_at": _iso(job.ended_at), "retries_left": job.retries_left}
        with self._reaching_redis("try again later"):
            if status == JobStatus.FINISHED:
                info["result"] = job.return_value()
            elif status == JobStatus.FAILED and (result := job.latest_result()) is not None:
                info["error"] = last_line(result.exc_string)
        return info


def last_line(exc_string: str | None) -> str | None:
    """``ExceptionType: message`` of a stored traceback, never the traceback itself."""
    lines = [line for line in (exc_string or "").splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else None


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def job_queue(app=None) -> JobQueue:
    """This app's queue, created from its config on first use (no connection until then)."""
    app = app or current_app._get_current_object()
    queue = app.extensions.get("flask_perf_jobs")
    if queue is None:
        queue = app.extensions["flask_perf_jobs"] = JobQueue(app)
    return queue
