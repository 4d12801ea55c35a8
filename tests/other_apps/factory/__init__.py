"""A lending library laid out like most Flask projects: a factory, several blueprints,
Flask-Login for its members, Flask-Migrate for its schema.

Blueprints: ``catalog`` (HTML pages), ``api`` (JSON under /api), ``accounts`` (login,
logout, the member's own page). The schema comes from ``flask db init / migrate /
upgrade`` (the migrations folder lives in the instance folder, so each test has its
own); ``flask seed`` adds authors, books, loans and one member.
"""
import os

from flask import Flask

from tests.other_apps import instance_path
from tests.other_apps.factory.extensions import db, login_manager, migrate, perf

SECRET_KEY = "library-test-secret-key-not-for-production"
MONITOR_PASSWORD = "library-monitor-pw-5"


def create_app(instance: str | None = None, **config) -> Flask:
    app = Flask(__name__, instance_path=instance_path(instance))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(SECRET_KEY=SECRET_KEY, SQLALCHEMY_DATABASE_URI="sqlite:///library.db",
                            PERF_MONITOR_PASSWORD=MONITOR_PASSWORD)
    app.config.update(config)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.instance_path, "migrations"))
    login_manager.init_app(app)

    from tests.other_apps.factory import accounts, api, catalog, seed

    app.register_blueprint(catalog.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(accounts.bp)
    app.cli.add_command(seed.seed_command)

    perf.init_app(app)
    return app
