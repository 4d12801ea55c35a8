"""The external-API bottleneck and its remedy: ``/class_report`` and its background job.

- ``client.py``   the grading service's pooled HTTP client (GRADING_SERVICE_URL, GRADING_TIMEOUT_S)
- ``report.py``   ``build_class_report(class_id)``: one service call per student
- ``jobs.py``     the RQ queue on Redis (REDIS_URL, JOBS_*) and the job function
- ``job_runs.py`` the worker's record of every attempt (queue wait, run time, outcome)
- ``worker.py``   ``flask worker``
- ``cli.py``      ``flask grading-service`` (the service itself is the top-level
  ``grading_service`` package)
- ``routes.py``   the blueprint

Nothing is imported at package import: ``webapp`` is imported by the Locust process
before gevent patches the standard library, and requests/urllib3 imported that early
break Locust's SSL setup (RecursionError).
"""


def init_app(app) -> None:
    """Register the routes and commands; clients connect on first use, not here."""
    from webapp.grading.cli import grading_service_command
    from webapp.grading.routes import bp
    from webapp.grading.worker import worker_command

    app.register_blueprint(bp)
    app.cli.add_command(worker_command)
    app.cli.add_command(grading_service_command)


def register_with(state) -> None:
    from webapp.grading.report_section import register

    register(state)
