"""gunicorn serves the production profile: ``gunicorn -w 2 'wsgi:app'``."""
import json
import urllib.request

import pytest

from tests.support import run_flask, start_gunicorn

pytestmark = pytest.mark.server


def test_gunicorn_serves_production(tmp_path):
    seeded = run_flask(tmp_path, "production", "seed", "--students", "50", "--classes", "5",
                       "--per-student", "2")
    assert seeded.returncode == 0, seeded.stderr
    server = start_gunicorn(tmp_path, "production", workers=2).wait_ready("/")
    try:
        with urllib.request.urlopen(server.url + "/roster?class_id=2") as response:
            body = json.load(response)
        assert body["class_id"] == 2 and body["students"]
    finally:
        assert server.stop() == 0, server.log()


def test_unknown_profile_is_a_clear_cli_error(tmp_path):
    result = run_flask(tmp_path, "staging", "seed")
    assert result.returncode != 0
    assert "unknown profile 'staging'; valid profiles: bare, development" in result.stderr
    assert "Traceback" not in result.stderr
