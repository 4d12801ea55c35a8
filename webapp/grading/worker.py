"""``flask --app wsgi worker [--burst] [--no-scheduler]``: runs the app's background jobs.

An RQ ``SimpleWorker`` (no fork per job): each job runs in this process inside a
fresh app context, so the database engine, the grading client's connection pool
and the recorder's writer thread serve every job. A forked work horse would build
them again for each job, and exit before the writer stored its row. Every attempt
is recorded (job_runs.py) with its queue wait and run time. Start several workers
for parallelism; ``--burst`` runs what is queued, then exits (tests, batch runs).
"""
import traceback

import click
from flask import current_app
from flask.cli import with_appcontext
from redis.exceptions import RedisError
from rq.job import JobStatus
from rq.worker import SimpleWorker

from webapp.grading.job_runs import JobRunRecorder
from webapp.grading.jobs import JobQueue, QueueUnavailable, redis_connection
from flask_perf.stores.engines import redacted_url


class AppWorker(SimpleWorker):
    """Performs each job in an app context of ``app`` and records every attempt."""

    def __init__(self, *args, app, recorder: JobRunRecorder, **kwargs):
        super().__init__(*args, **kwargs)
        self.app, self.recorder = app, recorder
        self._error: str | None = None

    def perform_job(self, job, queue) -> bool:
        enqueued_at, self._error = job.enqueued_at, None
        with self.app.app_context():
            finished = super().perform_job(job, queue)
        if finished:
            outcome = "finished"
        elif job.get_status(refresh=False) in (JobStatus.FAILED, JobStatus.STOPPED):
            outcome = "failed"
        else:  # RQ put it back in the queue (or scheduled it) for another attempt
            outcome = "retried"
        self.recorder.record(job, enqueued_at, outcome, self._error, self.name)
        return finished

    def handle_exception(self, job, *exc_info):
        self._error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        return super().handle_exception(job, *exc_info)


def run_worker(app, burst: bool = False, with_scheduler: bool = True) -> bool:
    """Work JOBS_QUEUE until stopped (or until it is empty with ``burst``)."""
    try:
        redis_connection(app).ping()  # fail fast; the worker's own connection is patient
    except QueueUnavailable as exc:
        raise click.ClickException(exc.message) from None
    except RedisError as exc:
        raise click.ClickException(f"cannot reach Redis at {redacted_url(app.config['REDIS_URL'])}"
                                   f" (REDIS_URL): {exc}") from None
    connection = redis_connection(app, patient=True)
    recorder = JobRunRecorder(app)
    worker = AppWorker([JobQueue(app, connection).queue], connection=connection, app=app,
                       recorder=recorder)
    try:
        return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")
    finally:
        recorder.writer.flush()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also enqueue retries whose wait is over (JOBS_RETRY_INTERVALS_S).")
@with_appcontext
def worker_command(burst, scheduler):
    """Run background jobs (RQ on REDIS_URL, queue JOBS_QUEUE); Ctrl-C stops it."""
    run_worker(current_app._get_current_object(), burst=burst, with_scheduler=scheduler)
