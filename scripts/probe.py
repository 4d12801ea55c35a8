"""Security probe: the demo under real gunicorn, attacked with sqlmap and bad input.

    .venv/bin/python scripts/probe.py            # ~3 minutes on 2 busy cores
    .venv/bin/python scripts/probe.py --quick    # ~2 minutes (tests/test_probe.py)

For each profile (development, profiling, production) it seeds a fresh instance folder
(``flask --app wsgi seed``), serves ``wsgi:app`` with ``gunicorn -w 2`` on a free loopback
port, then:

1. the bad-input run (probe_inputs.py): oversized headers, bodies and run labels, XSS
   payloads, planted secrets; per attack the HTTP statuses and the growth in bytes of
   every store file (``*.db`` and ``-wal``) once the writers went quiet;
2. sqlmap (probe_sqlmap.py) against the app's parameterised routes, the dashboard's
   JSON API with the session of a real login, and flask-profiler's API with basic auth
   (development and production by default: the profiling profile runs the same views);
3. a graceful stop (the writers flush at exit), the total growth, and a grep of every
   store file for the planted secrets, the monitoring password and the SECRET_KEY.

Before the profiles, sqlmap must find a planted injection (a tiny server pasting
``id`` into SQL), which shows that its verdicts are read correctly.

It prints a markdown table (attack → result, store growth in bytes) and writes JSON to
``benchmarks/results/probe-<UTC time>.json`` (``--json PATH`` elsewhere). Exit status 1
when a target is injectable or sqlmap could not test it, a 5xx answer was seen (or the
dashboard stored one, or the log has a traceback), an attack got an answer it should not
have, a secret reached a store, a run label other than a short token became a group, or
the stores grew more than the bound: PER_REQUEST_BYTES (64 KiB) per request sent plus
SLACK_BYTES (512 KiB) per measurement (probe_inputs.py says why). Findings that are not
failures (a slow answer, a warning in the server log) are listed too; ``--strict``
makes them failures.
"""
import argparse
import datetime
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the suite's own way to start real servers

import probe_inputs  # noqa: E402
import probe_sqlmap  # noqa: E402
from probe_sqlmap import Target  # noqa: E402
from tests.support import ServerProcess, free_port, run_flask, server_env, venv_bin  # noqa: E402

PROFILES = ("development", "profiling", "production")
SQLMAP_PROFILES = ("development", "production")
PASSWORD = "probe-monitor-pw-7319"
RUN_GROUPS = {"None", "probe-run-1"}  # the only FMD groups the run may create
SEED = ("--students", "60", "--classes", "6", "--per-student", "2")
PROF_KEEP = 200  # PERF_WSGI_PROFILER_KEEP: .prof files are capped by count, not in the byte bound
LOG_FAILURES = ("Traceback (most recent call last)", "Exception on ")
LOG_FINDINGS = ("WORKER TIMEOUT", "[CRITICAL]", "[ERROR]")


def start_server(instance: Path, profile: str) -> ServerProcess:
    """Seed ``instance``, then gunicorn -w 2 on it, both workers up."""
    seeded = run_flask(instance, profile, "seed", *SEED, APP_PERF_MONITOR_PASSWORD=PASSWORD)
    if seeded.returncode != 0:
        raise RuntimeError(f"seeding the {profile} instance failed:\n{seeded.stderr[-2000:]}")
    port = free_port()
    argv = [venv_bin("gunicorn"), "-c", str(ROOT / "tests" / "gunicorn_ready.py"), "-w", "2",
            "-b", f"127.0.0.1:{port}", "--graceful-timeout", "20", "wsgi:app"]
    server = ServerProcess(argv, server_env(instance, profile, APP_PERF_MONITOR_PASSWORD=PASSWORD), port,
                           instance / "gunicorn.log")
    deadline = time.monotonic() + 90
    while server.log().count("flask-perf worker ready") < 2:
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"gunicorn did not start both workers:\n{server.log()[-3000:]}")
        time.sleep(0.1)
    return server.wait_ready("/")


def dashboard_cookie(base: str) -> str:
    """The session cookie of a real login at /dashboard/login (form with its CSRF token)."""
    session = requests.Session()
    form = session.get(base + "/dashboard/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(base + "/dashboard/login", data={"name": "admin", "password": PASSWORD,
                                                           "csrf_token": token}, allow_redirects=False)
    if answer.status_code != 302 or session.get(base + "/dashboard/api/endpoints").status_code != 200:
        raise RuntimeError(f"the dashboard login failed ({answer.status_code})")
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def sqlmap_targets(profile: str, base: str, quick: bool) -> list[Target]:
    """The app's parameterised routes and the tools' APIs that ``profile`` serves: all of
    them in development; in production (no flask-profiler) two app routes and two API
    routes; with ``quick`` two or three."""
    app = [Target("GET /stats?class_id=2", f"{base}/stats?class_id=2", params=("class_id",)),
           Target("GET /roster?class_id=1", f"{base}/roster?class_id=1", params=("class_id",)),
           Target("GET /my_class?student_id=1", f"{base}/my_class?student_id=1", params=("student_id",)),
           Target("POST /enrollments (form)", f"{base}/enrollments", data="student_id=1&class_id=2",
                  params=("student_id", "class_id"))]
    cookie = dashboard_cookie(base)
    endpoints = requests.get(base + "/dashboard/api/endpoints", headers={"Cookie": cookie}, timeout=30).json()
    stats_id = next(e["id"] for e in endpoints if e["name"] == "school.stats")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    week_ago = today - datetime.timedelta(days=6)
    logged_in = {"cookie": cookie, "skip": ("session",), "logged_in": True}
    dashboard = [
        Target("GET /dashboard/api/outlier_table/<id>/<offset>/<per_page>",
               f"{base}/dashboard/api/outlier_table/{stats_id}/0*/10*", **logged_in),
        Target("GET /dashboard/api/hourly_load/<start>/<end>",
               f"{base}/dashboard/api/hourly_load/{week_ago}*/{today}*", **logged_in),
        Target("POST /dashboard/api/multi_version (JSON)", f"{base}/dashboard/api/multi_version",
               data=json.dumps({"data": {"endpoints": ["school.stats"], "versions": ["v1"]}}),
               headers=(f"Origin: {base}",), **logged_in)]
    profiler = [
        Target("GET /flask-profile/api/measurements/?name&sort&skip",
               f"{base}/flask-profile/api/measurements/?name=/stats&method=GET&sort=elapsed,desc&skip=0&limit=2",
               auth=f"admin:{PASSWORD}", params=("name", "sort", "skip"), logged_in=True),
        Target("GET /flask-profile/api/measurements/grouped?sort&startedAt",
               f"{base}/flask-profile/api/measurements/grouped?sort=count,desc&startedAt=0&limit=5",
               auth=f"admin:{PASSWORD}", params=("sort", "startedAt"), logged_in=True)]
    if requests.get(base + "/flask-profile/", timeout=30).status_code == 404:
        profiler = []  # production: no flask-profiler
    if quick:
        return [app[0], dashboard[0], *profiler[:1]] if profiler else [app[1], dashboard[1]]
    if not profiler:  # production: its routes run the same code; its dashboard is at level 1
        return [app[0], app[3], dashboard[0], dashboard[1]]
    return app + dashboard + profiler


def _secret_key(instance: Path) -> str | None:
    found = re.search(r"SECRET_KEY\s*=\s*['\"]([^'\"]+)['\"]", (instance / "config.py").read_text())
    return found.group(1) if found else None


def _dashboard_facts(instance: Path) -> dict:
    with sqlite3.connect(instance / "dashboard.db") as conn:
        groups = sorted(g for (g,) in conn.execute("SELECT DISTINCT group_by FROM Request"))
        errors = conn.execute("SELECT COUNT(*) FROM Request WHERE status_code >= 500").fetchone()[0]
        longest = conn.execute("SELECT COALESCE(MAX(LENGTH(message)), 0) FROM ExceptionMessage").fetchone()[0]
    conn.close()
    return {"groups": groups, "requests_5xx": errors, "longest_exception_message": longest}


def probe_profile(profile: str, workdir: Path, quick: bool, with_sqlmap: bool) -> dict:
    instance = workdir / profile
    instance.mkdir()
    server = start_server(instance, profile)
    result = {"profile": profile, "url": server.url, "attacks": [], "sqlmap": []}
    try:
        start = last = probe_inputs.settle(instance)
        for name, expected, send in probe_inputs.attacks(0.25 if quick else 1.0):
            row = probe_inputs.run_attack(name, expected, send, server.url, server.port)
            last = _measured(row, last, probe_inputs.settle(instance))
            result["attacks"].append(row)
        if with_sqlmap:
            for target in sqlmap_targets(profile, server.url, quick):
                row = probe_sqlmap.run(target, workdir / "sqlmap" / profile)
                last = _measured(row, last, probe_inputs.settle(instance))
                result["sqlmap"].append(row)
    finally:
        result["server_exit"] = server.stop()
    probe_inputs.checkpoint(instance)
    end = probe_inputs.sizes(instance)
    sent = sum(r["requests"] for r in result["attacks"]) + sum(r["requests"] for r in result["sqlmap"])
    changes = probe_inputs.growth(start, end)
    result["stores"] = {"before": start, "after": end, "growth": changes, "growth_total": sum(changes.values()),
                        "requests": sent, "bound": probe_inputs.bound(sent)}
    needles = {f"planted: {k}": v for k, v in probe_inputs.secrets_planted().items()}
    needles["monitoring password"] = PASSWORD
    if secret_key := _secret_key(instance):
        needles["SECRET_KEY"] = secret_key
    result["secrets_checked"] = sorted(needles)
    result["secrets_found"] = probe_inputs.find_secrets(instance, needles)
    log = server.log()
    result["log_failures"] = [line for line in log.splitlines() if any(m in line for m in LOG_FAILURES)]
    result["log_findings"] = [line for line in log.splitlines() if any(m in line for m in LOG_FINDINGS)]
    result["log_mentions_secret"] = sorted(name for name, value in needles.items() if value in log)
    result["dashboard"] = _dashboard_facts(instance)
    profiles_dir = instance / "profiles"
    if profiles_dir.is_dir():
        prof = list(profiles_dir.glob("*.prof"))
        result["prof_files"] = {"count": len(prof), "bytes": sum(p.stat().st_size for p in prof)}
    return result


def _measured(row: dict, before: dict, after: dict) -> dict:
    changes = probe_inputs.growth(before, after)
    row.update(growth=changes, growth_total=sum(changes.values()), bound=probe_inputs.bound(row["requests"]))
    return after


def judge(report: dict) -> tuple[list[str], list[str]]:
    """(failures, findings) of a finished run."""
    failures, findings = [], []
    control = report["control"]
    if control["verdict"] != "injectable":
        failures.append(f"sqlmap did not find the planted injection ({control.get('problem')})")
    for result in report["profiles"]:
        profile = result["profile"]
        for row in result["attacks"]:
            if not row["ok"]:
                failures.append(f"{profile}: {row['attack']}: answered {row['statuses']}, expected {row['expected']}")
            if row["growth_total"] > row["bound"]:
                failures.append(f"{profile}: {row['attack']}: stores grew {row['growth_total']:,} > {row['bound']:,}")
            if row["seconds"] > probe_inputs.SLOW_BODY_S * row["requests"]:
                findings.append(f"{profile}: {row['attack']}: {row['seconds']} s for {row['requests']} request(s)")
        for row in result["sqlmap"]:
            if row["verdict"] != "not injectable":
                failures.append(f"{profile}: sqlmap {row['target']}: {row['verdict']} "
                                f"{row.get('found') or row.get('problem')}")
            if any(code.startswith("5") for code in row["statuses"]):
                failures.append(f"{profile}: sqlmap {row['target']}: 5xx answers {row['statuses']}")
            if row["growth_total"] > row["bound"]:
                failures.append(f"{profile}: sqlmap {row['target']}: stores grew {row['growth_total']:,}")
        stores = result["stores"]
        if stores["growth_total"] > stores["bound"]:
            failures.append(f"{profile}: the stores grew {stores['growth_total']:,} > {stores['bound']:,} bytes")
        for name, files in result["secrets_found"].items():
            failures.append(f"{profile}: {name} found in {', '.join(files)}")
        if set(result["dashboard"]["groups"]) - RUN_GROUPS:
            failures.append(f"{profile}: run labels became groups: {result['dashboard']['groups']}")
        if result["dashboard"]["requests_5xx"]:
            failures.append(f"{profile}: the dashboard stored {result['dashboard']['requests_5xx']} 5xx requests")
        failures += [f"{profile}: server log: {line}" for line in result["log_failures"][:5]]
        if result.get("prof_files", {}).get("count", 0) > PROF_KEEP:
            failures.append(f"{profile}: {result['prof_files']['count']} .prof files kept (at most {PROF_KEEP})")
        if result["server_exit"] != 0:
            failures.append(f"{profile}: gunicorn exited with {result['server_exit']}")
        findings += [f"{profile}: server log: {line}" for line in result["log_findings"][:5]]
        findings += [f"{profile}: the server log shows the {name}" for name in result["log_mentions_secret"]]
    return failures, findings


def _statuses(counts: dict) -> str:
    return ", ".join(f"{code} ×{n}" if n > 1 else code for code, n in counts.items()) or "none"


def table(report: dict) -> str:
    lines = ["| profile | attack | result | store growth, bytes (bound) |", "|---|---|---|---|"]
    control = report["control"]
    lines.append(f"| — | sqlmap on a planted injection (`/item?id=`) | {control['verdict']}: "
                 f"{', '.join(control.get('found') or control['parameters'])}; {control['requests']} requests, "
                 f"{control['seconds']} s | — |")
    for result in report["profiles"]:
        profile = result["profile"]
        for row in result["attacks"]:
            mark = "" if row["ok"] else " **unexpected**"
            lines.append(f"| {profile} | {row['attack']} ({row['requests']} req.) | {_statuses(row['statuses'])}"
                         f"{mark}; {row['seconds']} s | {row['growth_total']:,} ({row['bound']:,}) |")
        for row in result["sqlmap"]:
            detail = row.get("problem") or ", ".join(row.get("found") or [])
            tested = ", ".join(f"`{name}`" for name in row["parameters"]) or "no parameter"
            lines.append(f"| {profile} | sqlmap `{row['target']}` | **{row['verdict']}**{': ' + detail if detail else ''}"
                         f" — {tested}; {row['requests']} requests "
                         f"({_statuses(row['statuses'])}), {row['seconds']} s | "
                         f"{row['growth_total']:,} ({row['bound']:,}) |")
        stores, found = result["stores"], result["secrets_found"]
        secrets = ", ".join(found) if found else f"none of {len(result['secrets_checked'])}"
        prof = result.get("prof_files")
        if prof:
            secrets += f"; .prof files: {prof['count']} ({prof['bytes']:,} bytes, at most {PROF_KEEP} kept)"
        lines.append(f"| {profile} | whole run, after a graceful stop ({stores['requests']:,} req.) | secrets in "
                     f"stores: {secrets}; groups {result['dashboard']['groups']}; 5xx stored: "
                     f"{result['dashboard']['requests_5xx']} | {stores['growth_total']:,} ({stores['bound']:,}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="development and production, fewer requests")
    parser.add_argument("--profiles", default=None, help=f"comma-separated (default: {','.join(PROFILES)})")
    parser.add_argument("--sqlmap-profiles", default=",".join(SQLMAP_PROFILES))
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON report")
    parser.add_argument("--keep", action="store_true", help="keep the instance folders and sqlmap logs")
    parser.add_argument("--strict", action="store_true", help="findings fail the run too")
    args = parser.parse_args(argv)
    version = probe_sqlmap.available()
    if version is None:
        print("probe: sqlmap is not on PATH (scripts/system-deps.sh installs it)", file=sys.stderr)
        return 2
    profiles = (args.profiles.split(",") if args.profiles else
                ["development", "production"] if args.quick else list(PROFILES))
    started = time.monotonic()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="flask-perf-probe-"))
    report = {"started_at": stamp, "quick": args.quick, "sqlmap": version, "options": list(probe_sqlmap.OPTIONS),
              "bound": {"per_request_bytes": probe_inputs.PER_REQUEST_BYTES,
                        "slack_bytes": probe_inputs.SLACK_BYTES}, "workdir": str(workdir)}
    with probe_sqlmap.planted_injection() as url:
        report["control"] = probe_sqlmap.run(Target("planted GET /item?id=1", url, params=("id",)),
                                             workdir / "sqlmap" / "control")
    report["profiles"] = [probe_profile(profile, workdir, args.quick, profile in args.sqlmap_profiles.split(","))
                          for profile in profiles]
    report["wall_s"] = round(time.monotonic() - started, 1)
    failures, findings = judge(report)
    report.update(failures=failures, findings=findings, ok=not failures and not (args.strict and findings))
    path = args.json or ROOT / "benchmarks" / "results" / f"probe-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\nwall time {report['wall_s']} s; JSON: {path}")
    for line in findings:
        print(f"finding: {line}")
    for line in failures:
        print(f"FAILED: {line}")
    if report["ok"] and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"instance folders and sqlmap logs kept in {workdir}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
