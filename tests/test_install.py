"""``pip install`` of the repository into a fresh virtualenv, then an app of ours with the two lines.

What a user gets from the package alone: no demo (``webapp``, ``config``) installed or
imported, ``flask perf`` on their app, /dashboard's login page, /flask-profile behind
basic auth and the toolbar on their HTML pages. The repository is copied first, so
the build leaves nothing (build/, *.egg-info) in the working tree; pip's cache makes
runs after the first quick.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.server
PASSWORD = "guestbook-monitor-pw-6"
# Our own app, written for this test: everything but the two marked lines is the app.
GUESTBOOK = f'''
import os

from flask import Flask, render_template_string, request
from flask_sqlalchemy import SQLAlchemy

from flask_perf import FlaskPerf  # 1

db = SQLAlchemy()
perf = FlaskPerf()


class Entry(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    author = db.Column(db.String(40), nullable=False)


def create_app():
    app = Flask(__name__, instance_path=os.environ["GUESTBOOK_INSTANCE"])
    app.config.update(SECRET_KEY="guestbook-test-secret-key", SQLALCHEMY_DATABASE_URI="sqlite:///guestbook.db",
                      PERF_MONITOR_PASSWORD="{PASSWORD}")
    db.init_app(app)

    @app.route("/")
    def entries():
        rows = db.session.scalars(db.select(Entry).where(Entry.author == request.args.get("by", "ann")))
        return render_template_string("<!doctype html><html><body><ul>{{% for e in rows %}}"
                                      "<li>{{{{ e.author }}}}</li>{{% endfor %}}</ul></body></html>", rows=rows)

    with app.app_context():
        db.create_all()
    perf.init_app(app)  # 2
    return app
'''
DEMO = ("webapp", "config", "wsgi", "tests", "grading_service", "benchmarks")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin dir, the app's folder) after ``pip install`` of a copy of the repository."""
    root = tmp_path_factory.mktemp("install")
    source = root / "flask-perf"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "instance", "test-artifacts", "__pycache__", ".pytest_cache", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    bin_dir = root / "venv" / "bin"
    started = time.monotonic()
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                           "--prefer-binary", "-q", str(source)],
                          env=_clean_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"pip install took {time.monotonic() - started:.1f}s")
    app_dir = root / "app"
    app_dir.mkdir()
    (app_dir / "guestbook.py").write_text(GUESTBOOK)
    return bin_dir, app_dir


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APP_", "FLASK_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env.update(extra)
    return env


def _app_env(app_dir: Path) -> dict:
    return _clean_env(GUESTBOOK_INSTANCE=str(app_dir / "instance"), FLASK_PERF_PROFILE="development",
                      PYTHONUNBUFFERED="1")


def test_the_package_alone_is_installed_and_imported(installed):
    bin_dir, app_dir = installed
    probe = ("import importlib.metadata, json, sys, flask_perf, flask_perf.cli, flask_perf.dashboard, "
             "flask_perf.profiler, flask_perf.toolbar\n"
             f"demo = {DEMO!r}\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in demo)))\n"
             "print(json.dumps(sorted({f.parts[0] for f in importlib.metadata.files('flask-perf')})))\n"
             "print(flask_perf.__file__)")
    done = subprocess.run([str(bin_dir / "python"), "-c", probe], cwd=app_dir, env=_app_env(app_dir),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    imported, shipped, location = done.stdout.splitlines()
    assert json.loads(imported) == []
    assert [name for name in json.loads(shipped) if not name.endswith(".dist-info")] == ["flask_perf"]
    assert location.startswith(str(bin_dir.parent)), location  # the installed copy, not the repository


def test_flask_perf_status_on_the_new_app(installed):
    bin_dir, app_dir = installed
    done = subprocess.run([str(bin_dir / "flask"), "--app", "guestbook", "perf", "status"], cwd=app_dir,
                          env=_app_env(app_dir), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "profile: development" in done.stdout
    assert str(app_dir / "instance" / "dashboard.db") in done.stdout, done.stdout


def test_the_new_app_serves_the_tools(installed):
    bin_dir, app_dir = installed
    port = free_port()
    # From the app's own folder, as its developer runs it (ServerProcess starts in the repository).
    command = f"cd {shlex.quote(str(app_dir))} && exec {shlex.quote(str(bin_dir / 'flask'))} " \
              f"--app guestbook run --port {port} --no-reload"
    server = ServerProcess(["/bin/sh", "-c", command], _app_env(app_dir), port, app_dir / "serve.log")
    try:
        server.wait_ready("/")
        page = urllib.request.Request(server.url + "/?by=bo", headers={"Accept": "text/html"})
        with urllib.request.urlopen(page, timeout=10) as response:
            assert b"flDebugToolbar" in response.read()  # the toolbar, for a browser on this machine
        with urllib.request.urlopen(server.url + "/dashboard/login", timeout=10) as response:
            assert response.status == 200 and b'name="password"' in response.read()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/flask-profile/", timeout=10)
        with refused.value:
            assert refused.value.code == 401 and "Basic" in refused.value.headers["WWW-Authenticate"]
    finally:
        server.stop()
