"""The application factory: config layers, extensions, blueprints, monitoring."""
import logging
import os

from flask import Flask

import config
from webapp import cli, instance, replica, seed
from webapp import grading
from webapp.extensions import db, perf
from webapp.school import bp as school_bp
from webapp.school import errors as school_errors
from webapp.version import app_version


def create_app(profile: str | None = None, test_config: dict | None = None) -> Flask:
    """Build the app for ``profile`` (default: ``APP_PROFILE`` or ``development``).

    Config order: profile class → ``instance/config.py`` → ``APP_*`` environment
    variables → ``test_config``. ``test_config`` may carry ``INSTANCE_PATH`` (also
    ``APP_INSTANCE_PATH``) to put the instance folder elsewhere.
    """
    test_config = dict(test_config or {})
    profile_class = config.get_profile(
        profile or os.environ.get("APP_PROFILE") or os.environ.get("FLASK_PERF_PROFILE"))
    instance_path = test_config.pop("INSTANCE_PATH", None) or os.environ.get("APP_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.path.abspath(instance_path) if instance_path else None)

    app.config.from_object(profile_class)
    instance.ensure_instance_folder(app.instance_path)
    app.config.from_pyfile("config.py")
    app.config.from_prefixed_env("APP")
    app.config.update(test_config)
    app.config["PERF_PROFILE"] = profile_class.PROFILE  # the class decides, not a stray APP_PROFILE
    _finish_config(app, profile_class)

    _log_to_stderr()
    replica.init_app(app)  # before db.init_app
    db.init_app(app)
    app.register_blueprint(school_bp)
    grading.init_app(app)  # /class_report and its background job
    school_errors.init_app(app)
    cli.init_app(app)
    state = perf.init_app(app, engines=replica.engines(app))  # after the routes: the tools wrap the views
    grading.register_with(state)  # the jobs store and its report section
    state.add_loadtest_env(seed.loadtest_env)  # the ids webapp/locustfile.py may draw
    return app


def _log_to_stderr() -> None:
    """Our loggers (slow queries, monitoring stores) print with time and level."""
    for name in ("webapp", "flask_perf"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)


def _finish_config(app: Flask, profile_class: type) -> None:
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        path = os.path.join(app.instance_path, "school.db")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # a file needs no liveness check; the ping costs a query per request
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"}
    app.config["PERF_VERSION"] = app_version(app.config.get("PERF_VERSION"))
    check = getattr(profile_class, "secret_key_problem", None)
    if check and (problem := check(app.config.get("SECRET_KEY"))):
        raise config.ConfigError(f"refusing to start the {profile_class.PROFILE} profile: {problem}"
                                 " (set it in instance/config.py or APP_SECRET_KEY)")
    if not app.config.get("SECRET_KEY"):
        raise config.ConfigError("SECRET_KEY is missing (instance/config.py or APP_SECRET_KEY)")
