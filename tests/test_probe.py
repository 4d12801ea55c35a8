"""The security probe (scripts/probe.py --quick) against real gunicorn servers, with real sqlmap.

One run serves the demo in the development and production profiles, sends the bad-input
run and points sqlmap at the app's routes and the tools' APIs; these tests read its JSON.
sqlmap must find the planted injection and must really test each target (parameters,
requests), so a broken invocation cannot pass as "not injectable".
"""
import json
import subprocess
import sys

import pytest

from tests.support import ROOT, require_command

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    require_command("sqlmap")
    path = tmp_path_factory.mktemp("probe") / "probe.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe.py"), "--quick", "--json", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(path.read_text())
    data["exit"], data["output"] = done.returncode, done.stdout
    return data


def test_the_probe_passes(report):
    assert report["failures"] == [], report["output"][-4000:]
    assert report["exit"] == 0, report["output"][-4000:]
    assert [p["profile"] for p in report["profiles"]] == ["development", "production"]


def test_sqlmap_finds_the_planted_injection(report):
    control = report["control"]
    assert control["verdict"] == "injectable" and control["found"] == ["GET id"], control


def test_sqlmap_tested_every_target_and_found_no_injection(report):
    targets = {}
    for profile in report["profiles"]:
        for row in profile["sqlmap"]:
            targets[(profile["profile"], row["target"])] = row
            assert row["verdict"] == "not injectable", row
            assert len(row["parameters"]) >= 1, row  # sqlmap really tested something
            assert row["requests"] >= 50 * len(row["parameters"]), row
            assert not any(code.startswith("5") for code in row["statuses"]), row
    development = [target for profile, target in targets if profile == "development"]
    assert any(t.startswith("GET /stats") for t in development)
    assert any("/dashboard/api/" in t for t in development)  # with the session of a real login
    assert any("/flask-profile/api/" in t for t in development)  # with basic auth
    assert any("/dashboard/api/" in t for profile, t in targets if profile == "production")


def test_bad_input_is_refused_or_answered_without_5xx(report):
    for profile in report["profiles"]:
        rows = {row["attack"]: row for row in profile["attacks"]}
        oversized = [row for name, row in rows.items() if name.startswith("20 MB body, Content-Length")]
        assert len(oversized) == 3
        for row in oversized:
            assert row["statuses"] == {"413": 1}, row
        for row in rows.values():
            assert row["ok"] and not any(code.startswith("5") for code in row["statuses"]), row
        assert profile["dashboard"]["requests_5xx"] == 0 and profile["log_failures"] == []
        assert set(profile["dashboard"]["groups"]) <= {"None", "probe-run-1"}  # no label became a group


def test_store_growth_stays_within_the_bound(report):
    per_request, slack = report["bound"]["per_request_bytes"], report["bound"]["slack_bytes"]
    assert (per_request, slack) == (64 * 1024, 512 * 1024)
    for profile in report["profiles"]:
        for row in profile["attacks"] + profile["sqlmap"]:
            assert row["growth_total"] <= row["requests"] * per_request + slack, row
        stores = profile["stores"]
        assert stores["growth_total"] <= stores["requests"] * per_request + slack, stores
        refused = [row for row in profile["attacks"] if row["statuses"] in ({"413": 1}, {"431": 1})]
        # Nothing of theirs is stored; a page written late by the attack before may land in the window.
        assert len(refused) >= 5 and sum(row["growth_total"] for row in refused) <= 16 * 1024, refused


def test_no_secret_reaches_a_store(report):
    for profile in report["profiles"]:
        assert profile["secrets_found"] == {}
        assert {"monitoring password", "SECRET_KEY", "planted: nested JSON password"} <= \
            set(profile["secrets_checked"])
