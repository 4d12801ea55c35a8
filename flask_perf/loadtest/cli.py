"""``flask loadtest [OPTIONS]`` and ``flask loadtest list``."""
import ipaddress
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from flask_perf.cli_types import Duration
from flask_perf.config import PROFILES
from flask_perf.loadtest import SCENARIO_NAMES
from flask_perf.loadtest.results import LoadTestResult, load_runs, recorded_counts, results_root
from flask_perf.loadtest.server import GunicornServer, free_port, server_env

def check_target(url: str | None, allow_remote: bool) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise click.BadParameter(f"{host} is not a loopback address; pass --allow-remote to load "
                                 "a server you are allowed to test", param_hint="--url")
    return url.rstrip("/")


@click.group("loadtest", cls=AppGroup, invoke_without_command=True)
@click.option("--users", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--duration", default="30s", show_default=True, type=Duration())
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="Total requests per second (default: as fast as the users can).")
@click.option("--profile", default="development", show_default=True,
              type=click.Choice(sorted(PROFILES)), help="Profile of the server started.")
@click.option("--url", help="Load this running server instead of starting one.")
@click.option("--allow-remote", is_flag=True, help="Accept a --url that is not loopback.")
@click.option("--scenario", default="default", show_default=True, type=click.Choice(SCENARIO_NAMES))
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0, max=32),
              help="Locust worker processes (master/worker mode); 0 runs locally.")
@click.option("--max-requests", type=click.IntRange(min=1), help="Stop after about this many requests.")
@click.option("--spawn-rate", type=click.FloatRange(min=0, min_open=True),
              help="Users started per second (default: all at once).")
@click.option("--version-label", help="Version the started server records (default: the app's "
              "version); label before/after runs to compare them with `flask report`.")
@click.pass_context
@with_appcontext
def loadtest(ctx, users, duration, rate, profile, url, allow_remote, scenario, workers,
             max_requests, spawn_rate, version_label):
    """Run a Locust load test; save results under instance/loadtests/."""
    if ctx.invoked_subcommand is not None:
        return
    url = check_target(url, allow_remote)
    classes, students = (db.session.execute(select(func.count()).select_from(m)).scalar_one()
                         for m in (Class, Student))
    if not classes or not students:
        raise click.ClickException("the database holds no data: run `flask --app wsgi seed` first")
    now = datetime.now(timezone.utc)
    run_id = f"loadtest-{now:%Y%m%dT%H%M%S%fZ}"
    directory = os.path.join(results_root(current_app), run_id.removeprefix("loadtest-"))
    os.makedirs(directory)
    result = LoadTestResult(run_id=run_id, started_at=now.isoformat(), url=url or "",
                            profile=None if url else profile, scenario=scenario, users=users,
                            duration_s=duration, rate=rate, workers=workers,
                            app_version=version_label or current_app.config["PERF_VERSION"])
    settings = {"users": users, "spawn_rate": spawn_rate or users, "duration_s": duration,
                "rate": rate, "max_requests": max_requests, "scenario": scenario,
                "results_dir": directory, "workers": workers, "master_port": free_port(),
                "classes": classes, "students": students, "run_id": run_id}
    if url:
        click.echo(f"Load test {run_id}: {users} users on {url} for {duration:g}s")
        result.locust = _run_locust(settings, url, directory)
    else:
        env = server_env(current_app.instance_path, profile,
                         current_app.config["SQLALCHEMY_DATABASE_URI"])
        if version_label:
            env["APP_PERF_VERSION"] = version_label
        with GunicornServer(env, os.path.join(directory, "server.log")) as server:
            click.echo(f"Load test {run_id}: {users} users on {server.url} "
                       f"(gunicorn -w 2, profile {profile}) for {duration:g}s")
            result.locust = _run_locust(settings, server.url, directory)
            result.url = server.url
        profile_class = profiles.get_profile(profile)
        result.recorded = recorded_counts(current_app, run_id, profile_class.PERF_DASHBOARD_ENABLED,
                                          profile_class.PERF_PROFILER_ENABLED)
    result.save(directory)
    _print_summary(result, directory)
    if result.recorded and not result.nothing_lost:
        raise click.ClickException("the monitoring stores did not record every request")


def _run_locust(settings: dict, url: str, directory: str) -> dict:
    path = os.path.join(directory, "locust-config.json")
    with open(path, "w") as handle:
        json.dump({**settings, "url": url}, handle, indent=2)
    run = subprocess.run([sys.executable, "-m", "flask_perf.loadtest.locust_run", path],
                         cwd=REPO_ROOT, stderr=open(os.path.join(directory, "locust.log"), "w"))
    if run.returncode != 0:
        raise click.ClickException(f"Locust failed (exit {run.returncode}); see {directory}/locust.log")
    with open(os.path.join(directory, "locust.json")) as handle:
        return json.load(handle)


def _print_summary(result: LoadTestResult, directory: str) -> None:
    header = f"{'endpoint':<32} {'count':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}"
    click.echo("\n" + header + "\n" + "-" * len(header))
    for row in [*result.locust["endpoints"], {**result.locust["total"], "name": "total"}]:
        click.echo(f"{row['name'][:32]:<32} {row['requests']:>7} {row['failures']:>5} {row['rps']:>7.1f} "
                   f"{row['p50_ms']:>6.0f} {row['p95_ms']:>6.0f} {row['p99_ms']:>6.0f} {row['max_ms']:>7.0f}")
    click.echo("latencies in ms; bad-id rows are expected 400/404 answers, not failures")
    click.echo(f"\ncompleted requests (Locust): {result.completed}")
    for store, count in result.recorded.items():
        mark = "ok" if count == result.completed else "MISMATCH"
        click.echo(f"recorded by {store:<17} {count if count is not None else 'nothing'}  [{mark}]")
    click.echo(f"results: {directory}")


@loadtest.command("list")
def list_command():
    """Past runs side by side."""
    runs = load_runs(current_app)
    if not runs:
        click.echo("No load-test runs yet.")
        return
    click.echo(f"{'run':<26} {'profile':<12} {'version':<22} {'users':>5} {'reqs':>7} {'req/s':>7} "
               f"{'p50':>5} {'p95':>5} {'fail':>5} {'recorded (FMD/profiler)':>24}")
    for run in runs:
        total = run["locust"]["total"]
        recorded = "/".join("-" if v is None else str(v) for v in run["recorded"].values()) or "-"
        click.echo(f"{run['run_id'].removeprefix('loadtest-'):<26} {run['profile'] or 'url':<12} "
                   f"{run['app_version'][:22]:<22} {run['users']:>5} {total['requests']:>7} "
                   f"{total['rps']:>7.1f} {total['p50_ms']:>5.0f} {total['p95_ms']:>5.0f} "
                   f"{total['failures']:>5} {recorded:>24}")
