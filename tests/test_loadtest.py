"""``flask loadtest``: a real Locust run against a real gunicorn, counts cross-checked."""
import json
import os

import pytest

from tests.support import run_flask

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    path = tmp_path_factory.mktemp("loadtest")
    seeded = run_flask(path, "testing", "seed", "--students", "300", "--classes", "30",
                       "--per-student", "3")
    assert seeded.returncode == 0, seeded.stderr
    return path


def only_run(instance, before):
    runs = sorted(set(os.listdir(instance / "loadtests")) - before)
    assert len(runs) == 1
    return instance / "loadtests" / runs[0]


def existing(instance):
    root = instance / "loadtests"
    return set(os.listdir(root)) if root.exists() else set()


def test_short_run_records_every_request(instance):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "testing", "--users", "4",
                       "--duration", "20s", "--max-requests", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = only_run(instance, before)
    for name in ("summary.json", "locust_stats.csv", "locust_failures.csv", "server.log"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    total = summary["locust"]["total"]
    assert 300 <= total["requests"] < 400  # bounded by --max-requests
    assert sum(e["requests"] for e in summary["locust"]["endpoints"]) == total["requests"]
    assert total["failures"] == 0  # bad ids answered as expected count apart, not as failures
    names = {e["name"] for e in summary["locust"]["endpoints"]}
    assert {"/roster", "/my_class"} <= names
    assert summary["recorded"] == {"dashboard": total["requests"], "flask_profiler": total["requests"]}
    assert summary["nothing_lost"] is True and summary["profile"] == "testing"
    assert summary["app_version"]
    csv_total = (folder / "locust_stats.csv").read_text().splitlines()[-1].split(",")
    assert csv_total[1] == "Aggregated" and int(csv_total[2]) == total["requests"]
    assert "recorded by dashboard" in result.stdout and "[ok]" in result.stdout
    assert "requests" in result.stdout and "req/s" in result.stdout  # progress lines
    listing = run_flask(instance, "testing", "perf", "loadtest", "list")
    assert listing.returncode == 0 and summary["run_id"].removeprefix("loadtest-") in listing.stdout


def test_master_worker_mode_merges_stats(instance):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "testing", "--users", "4",
                       "--workers", "2", "--duration", "6s")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((only_run(instance, before) / "summary.json").read_text())
    assert summary["workers"] == 2
    total = summary["locust"]["total"]["requests"]
    assert total > 0 and summary["recorded"]["dashboard"] == total
    assert summary["recorded"]["flask_profiler"] == total


@pytest.mark.parametrize("args, message", [
    (["--users", "-3"], "'--users': -3 is not in the range"),
    (["--duration", "soon"], "'soon' is not a duration"),
    (["--duration", "0s"], "must be longer than 0s"),
    (["--url", "http://10.0.0.1:5000"], "not a loopback address; pass --allow-remote"),
    (["--url", "ftp://127.0.0.1/"], "is not an http(s) URL"),
    (["--scenario", "nope"], "'nope' is not one of"),
])
def test_bad_options_exit_2(instance, args, message):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert existing(instance) == before


def test_scenario_names_match_the_registry():
    import subprocess
    import sys
    from flask_perf.loadtest import SCENARIO_NAMES
    code = "from flask_perf.loadtest.scenarios import SCENARIOS; print(sorted(SCENARIOS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(SCENARIO_NAMES))
