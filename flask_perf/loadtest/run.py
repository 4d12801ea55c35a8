"""One load test: the app under gunicorn (or a ``--url``), the Locust process, the cross-check.

Everything a run leaves is in ``<instance>/loadtests/<timestamp>/``: the Locust config
and log, gunicorn's log, Locust's CSV stats and ``summary.json`` (``LoadTestResult``).
The cross-check compares Locust's completed requests with what the dashboard and
flask-profiler stores recorded under the run id, for the stores the profile enables.
"""
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone

import click
from flask import Flask

import flask_perf
from flask_perf.loadtest import locust_argv
from flask_perf.loadtest.app_import import current_app_import
from flask_perf.loadtest.locustfiles import DEFAULT_SCENARIO
from flask_perf.loadtest.results import LoadTestResult, recorded_counts, results_root
from flask_perf.loadtest.routes import default_paths
from flask_perf.loadtest.server import GunicornServer, free_port, server_env
from flask_perf.stores import retention


@dataclass(frozen=True)
class LoadTestOptions:
    users: int
    duration_s: float
    rate: float | None
    profile: str
    url: str | None
    locustfile: str | None  # None: the default scenario
    scenario: str | None
    workers: int
    max_requests: int | None
    spawn_rate: float | None
    version_label: str | None


def locust_env(app: Flask, options: LoadTestOptions) -> dict:
    """Variables the locustfile reads: the app's own (``PerfState.add_loadtest_env``) and,
    for the default scenario, the paths to request."""
    env = {}
    for provider in app.extensions["flask_perf"].loadtest_env_providers:
        try:
            env.update({str(k): str(v) for k, v in provider(app).items()})
        except click.ClickException:
            raise
        except Exception as exc:  # the app's own check (e.g. "no data"): one clear line
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            name = getattr(provider, "__qualname__", provider)
            raise click.ClickException(f"the app's load-test setup ({name}): {line}") from None
    if options.locustfile is None:
        paths = default_paths(app)
        if not paths:
            raise click.ClickException("the app has no GET route without URL parameters to load "
                                       "(see PERF_LOADTEST_EXCLUDE); pass --locustfile")
        env["LOADTEST_PATHS"] = json.dumps(paths)
    return env


def run_load_test(app: Flask, options: LoadTestOptions) -> tuple[LoadTestResult, str]:
    """Run, save ``summary.json`` and return the result and its folder."""
    env = locust_env(app, options)
    target = None if options.url else current_app_import(app)
    now = datetime.now(timezone.utc)
    run_id = f"loadtest-{now:%Y%m%dT%H%M%S%fZ}"
    directory = os.path.join(results_root(app), run_id.removeprefix("loadtest-"))
    os.makedirs(directory)
    result = LoadTestResult(
        run_id=run_id, started_at=now.isoformat(), url=options.url or "",
        profile=None if options.url else options.profile,
        app_version=options.version_label or app.config["PERF_VERSION"],
        locustfile=options.locustfile, scenario=options.scenario or "default",
        users=options.users, duration_s=options.duration_s, rate=options.rate, workers=options.workers)
    settings = {"users": options.users, "spawn_rate": options.spawn_rate or options.users,
                "duration_s": options.duration_s, "rate": options.rate,
                "max_requests": options.max_requests, "scenario": options.scenario,
                "locustfile": options.locustfile or DEFAULT_SCENARIO,
                "env": {**env, "LOADTEST_RUN": run_id}, "results_dir": directory,
                "workers": options.workers, "master_port": free_port()}
    if target is None:
        click.echo(f"Load test {run_id}: {options.users} users on {options.url} "
                   f"for {options.duration_s:g}s")
        result.locust = run_locust(settings, options.url, directory)
    else:
        result.url, result.locust = _run_on_gunicorn(target, options, settings, directory)
        result.recorded = recorded_counts(app, run_id, options.profile)
        retention.prune_quietly(app)  # the server is gone: its pruner never ran on its interval
    result.save(directory)
    return result, directory


def _run_on_gunicorn(target, options: LoadTestOptions, settings: dict, directory: str):
    env = server_env(options.profile, options.version_label)
    try:
        with GunicornServer(target, env, os.path.join(directory, "server.log")) as server:
            click.echo(f"Load test {settings['env']['LOADTEST_RUN']}: {options.users} users on "
                       f"{server.url} (gunicorn -w 2 {target.gunicorn_app}, profile "
                       f"{options.profile}) for {options.duration_s:g}s")
            return server.url, run_locust(settings, server.url, directory)
    except RuntimeError as exc:  # the server did not start
        raise click.ClickException(str(exc)) from None


def run_locust(settings: dict, url: str, directory: str) -> dict:
    path = os.path.join(directory, "locust-config.json")
    with open(path, "w") as handle:
        json.dump({**settings, "url": url}, handle, indent=2)
    # flask_perf may be importable here only through the app's folder (flask --app /path/app.py)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(flask_perf.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    log_path = os.path.join(directory, "locust.log")
    with open(log_path, "w") as log:
        run = subprocess.run(locust_argv(path), env=env, stderr=log)
    if run.returncode != 0:
        with open(log_path, errors="replace") as log:
            last = ([line.strip() for line in log if line.strip()] or [""])[-1]
        raise click.ClickException(f"Locust failed (exit {run.returncode}): {last}\n"
                                   f"see {log_path}")
    with open(os.path.join(directory, "locust.json")) as handle:
        return json.load(handle)
