"""gunicorn config for tests: log a line once a worker has loaded the app."""


def post_worker_init(worker):
    worker.log.info("flask-perf worker ready")
