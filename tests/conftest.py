"""Fixtures: ``app``, ``client``, ``runner`` on a temp instance folder, for each backend.

The ``app`` fixture uses the ``testing`` profile, whose monitoring stores live in
the recording dir: the repository's ``instance/`` unless ``APP_TEST_RECORD_DIR``
says otherwise. So every run of the suite adds its requests to /dashboard and
/flask-profile, labelled ``<version> test-run <start time>``.

``backend`` is parametrized over SQLite and the real MariaDB at 127.0.0.1:3306. Each
test session gets its own MariaDB database, dropped at the end, so runs never
collide. In CI (``CI=true``) a missing MariaDB fails the run instead of skipping.
"""
import os
import uuid
from datetime import datetime, timezone

import pymysql
import pytest

from tests.support import MARIADB_HOST, MARIADB_PORT, ROOT, mariadb_available
from webapp import create_app
from webapp.extensions import db
from webapp.seed import SeedPlan, seed
from webapp.version import app_version

SMALL = SeedPlan(students=60, classes=12, per_student=3, seed=7)
RUN_LABEL = f"{app_version()} test-run {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


@pytest.fixture(scope="session")
def record_dir():
    """Where the testing profile's monitoring stores of this run accumulate."""
    path = os.environ.get("APP_TEST_RECORD_DIR") or str(ROOT / "instance")
    os.makedirs(path, exist_ok=True)
    return path


def _mysql(sql: str) -> None:
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def mariadb_database():
    """``mariadb_database()`` → URL of a fresh MariaDB database, dropped after the session."""
    if not mariadb_available():
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB is not answering on 127.0.0.1:3306 in CI")
        pytest.skip("MariaDB is not answering on 127.0.0.1:3306")
    created = []

    def create() -> str:
        name = f"flaskperf_test_{uuid.uuid4().hex[:10]}"
        _mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        created.append(name)
        return f"mysql+pymysql://root@{MARIADB_HOST}:{MARIADB_PORT}/{name}"

    yield create
    for name in created:
        _mysql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def mariadb_url(mariadb_database):
    """URL of a fresh MariaDB database for this test session."""
    return mariadb_database()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def backend(request, tmp_path):
    """(name, SQLAlchemy URL) of the school database for one test."""
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'school.db'}"
    return "mariadb", request.getfixturevalue("mariadb_url")


@pytest.fixture
def instance_path(tmp_path):
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def make_app(instance_path):
    """Build an app on the temp instance folder: ``make_app(profile, **config)``."""
    def factory(profile="testing", **config):
        return create_app(profile, {"INSTANCE_PATH": str(instance_path), **config})
    return factory


@pytest.fixture
def app(make_app, backend, record_dir):
    """The testing-profile app on a small seeded database of ``backend``, recording."""
    app = make_app("testing", SQLALCHEMY_DATABASE_URI=backend[1], PERF_STORE_DIR=record_dir,
                   PERF_VERSION=RUN_LABEL, PERF_DASHBOARD_MANAGE_USER=False)
    with app.app_context():
        seed(SMALL, reset=True)
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
