"""``flask perf loadtest [OPTIONS]`` and ``flask perf loadtest list``: options in, table out.

The run itself is ``run.run_load_test``; ``--locustfile`` and ``--scenario`` are
resolved and checked here (``locustfiles.py``), before anything starts.
"""
import ipaddress
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from flask_perf.cli_types import Duration
from flask_perf.config import PROFILES
from flask_perf.loadtest.locustfiles import check_scenario, resolve_locustfile
from flask_perf.loadtest.results import LoadTestResult, load_runs
from flask_perf.loadtest.run import LoadTestOptions, run_load_test


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
@click.option("--locustfile", type=click.Path(exists=True, dir_okay=False),
              help="The app's Locust users (default: PERF_LOADTEST_LOCUSTFILE; without one, "
              "every GET route that takes no URL parameter).")
@click.option("--scenario", help="A key of the locustfile's SCENARIOS, or one of its user "
              "classes (default: SCENARIOS['default'], else every user class).")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0, max=32),
              help="Locust worker processes (master/worker mode); 0 runs locally.")
@click.option("--max-requests", type=click.IntRange(min=1), help="Stop after about this many requests.")
@click.option("--spawn-rate", type=click.FloatRange(min=0, min_open=True),
              help="Users started per second (default: all at once).")
@click.option("--version-label", help="Version the started server records (default: the app's "
              "version); label before/after runs to compare them with `flask perf report`.")
@click.pass_context
@with_appcontext
def loadtest(ctx, users, duration, rate, profile, url, allow_remote, locustfile, scenario, workers,
             max_requests, spawn_rate, version_label):
    """Run a Locust load test; save results under instance/loadtests/."""
    if ctx.invoked_subcommand is not None:
        return
    app = current_app._get_current_object()
    locustfile = resolve_locustfile(app, locustfile)
    check_scenario(locustfile, scenario)
    options = LoadTestOptions(users, duration, rate, profile, check_target(url, allow_remote),
                              locustfile, scenario, workers, max_requests, spawn_rate, version_label)
    result, directory = run_load_test(app, options)
    _print_summary(result, directory)
    if result.recorded and not result.nothing_lost:
        raise click.ClickException("the monitoring stores did not record every request")


def _print_summary(result: LoadTestResult, directory: str) -> None:
    header = f"{'endpoint':<32} {'count':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}"
    click.echo("\n" + header + "\n" + "-" * len(header))
    for row in [*result.locust["endpoints"], {**result.locust["total"], "name": "total"}]:
        click.echo(f"{row['name'][:32]:<32} {row['requests']:>7} {row['failures']:>5} {row['rps']:>7.1f} "
                   f"{row['p50_ms']:>6.0f} {row['p95_ms']:>6.0f} {row['p99_ms']:>6.0f} {row['max_ms']:>7.0f}")
    click.echo("latencies in ms; failures: answers the scenario did not accept")
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
