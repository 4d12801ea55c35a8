"""Flask apps of other shapes, written for the tests that attach flask_perf to them.

- ``factory``: an app factory with several blueprints, Flask-Login and Flask-Migrate;
- ``single_module``: one module, a module-level ``app``, no factory;
- ``two_binds``: Flask-SQLAlchemy with a second bind (``SQLALCHEMY_BINDS``);
- ``late_blueprint``: ``init_app`` runs before one of its blueprints is registered;
- ``counter``: a one-route app built by ``make_app(instance_path)``, twice per process.

Each takes its instance folder from ``OTHER_APP_INSTANCE_PATH`` (or an argument) so
tests run in temp dirs, and sets its own SECRET_KEY and monitoring password. The
profile comes from the environment (``FLASK_PERF_PROFILE``) as for any user's app.
"""
import os

INSTANCE_ENV = "OTHER_APP_INSTANCE_PATH"


def instance_path(given: str | None = None) -> str | None:
    """The instance folder: ``given``, else ``$OTHER_APP_INSTANCE_PATH``, else Flask's default."""
    path = given or os.environ.get(INSTANCE_ENV)
    return os.path.abspath(path) if path else None
