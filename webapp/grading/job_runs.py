"""Durations of background jobs: one ``job_run`` row per attempt, written by the worker.

The row holds the queue wait (enqueued → started) and the run time (started →
ended) of one attempt, its outcome (``finished``, ``retried`` or ``failed``) and the
error. It goes to ``jobs.db`` in the monitoring dir (or JOBS_DATABASE_URL) through
the same store engine and batching writer as the other monitoring stores, so the
numbers build up across runs and a slow store never delays a job. ``flask report``
reads them (webapp/report/jobs.py).
"""
import time
from datetime import datetime, timezone

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table

from flask_perf.stores.engines import health_dir, schema_lock, store_engine, store_url
from flask_perf.stores.writer import BatchWriter

metadata = MetaData()
job_run = Table(
    "job_run", metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("function", String(200), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("enqueued_at", Float),  # unix seconds
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("queue_wait_ms", Float),
    Column("run_ms", Float),
    Column("error", String(500)),
    Column("app_version", String(100)),
    Column("worker", String(100)),
    Column("recorded_at", Float, nullable=False),
    Index("ix_job_run_recorded_at", "recorded_at"),
)


def jobs_store_url(app) -> str:
    return store_url(app, "JOBS_DATABASE_URL", "jobs.db")


def _unix(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _ms(start: float | None, end: float | None) -> float | None:
    return round((end - start) * 1000, 3) if start is not None and end is not None else None


def run_row(job, enqueued_at: datetime | None, status: str, error: str | None, worker: str) -> dict:
    """``enqueued_at`` is taken before the attempt: a retry re-enqueues the job, which
    moves ``job.enqueued_at`` to the retry's time."""
    enqueued, started, ended = _unix(enqueued_at), _unix(job.started_at), _unix(job.ended_at)
    return {"job_id": job.id, "function": job.func_name[:200], "queue": job.origin[:100],
            "status": status, "enqueued_at": enqueued, "started_at": started, "ended_at": ended,
            "queue_wait_ms": _ms(enqueued, started), "run_ms": _ms(started, ended),
            "error": error[:500] if error else None,
            "app_version": str(job.meta.get("app_version") or "?")[:100], "worker": worker[:100],
            "recorded_at": time.time()}


class JobRunRecorder:
    """Creates the store (once, under the schema lock) and queues one row per attempt."""

    def __init__(self, app):
        engine = store_engine(jobs_store_url(app))
        with schema_lock(app.config["PERF_STORE_DIR"]):
            metadata.create_all(engine)
        self.writer = BatchWriter(engine, job_run, "jobs", health_dir=health_dir(app))

    def record(self, job, enqueued_at: datetime | None, status: str, error: str | None,
               worker: str) -> None:
        self.writer.put(run_row(job, enqueued_at, status, error, worker))
