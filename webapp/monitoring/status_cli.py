"""``flask monitoring status``: where each tool stores its data and how much it holds.

It reads the stores directly (never the request-time objects), so it works while
the app is serving and for stores of profiles other than the running one.
"""
import json
import os

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, inspect, select, table

from webapp.monitoring.stores import (health_dir, redacted_url, sqlite_file_missing, store_engine,
                                      store_url)
from webapp.monitoring.wsgi_profiler import list_profiles, profile_dir

monitoring = AppGroup("monitoring", help="Inspect the monitoring stores.")

STORES = (
    # (tool, config key, default file, tables to count)
    ("Flask-MonitoringDashboard", "DASHBOARD_DATABASE_URL", "dashboard.db",
     ("Request", "Endpoint", "Outlier", "StackLine")),
    ("flask-profiler", "FLASK_PROFILER_DATABASE_URL", "profiler.db", ("measurements",)),
    ("slow-query log", "SLOW_QUERY_DATABASE_URL", "slow_queries.db", ("slow_query", "query_finding")),
    ("background jobs", "JOBS_DATABASE_URL", "jobs.db", ("job_run",)),
)


def count_rows(url: str, names) -> dict[str, int | None]:
    """Row count per table (None when the table does not exist yet)."""
    engine = store_engine(url)
    try:
        existing = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return {name: (conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                           if name in existing else None) for name in names}
    finally:
        engine.dispose()


def writer_health(app) -> dict[str, dict]:
    """Per writer name: rows written and dropped, summed over the processes that reported."""
    totals: dict[str, dict] = {}
    directory = health_dir(app)
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        try:
            with open(os.path.join(directory, name)) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        entry = totals.setdefault(name.rsplit("-", 1)[0], {"written": 0, "dropped": 0, "last_error": None})
        entry["written"] += data.get("written", 0)
        entry["dropped"] += data.get("dropped", 0)
        entry["last_error"] = data.get("last_error") or entry["last_error"]
    return totals


def store_status(app) -> list[dict]:
    """One entry per store: tool, location, counts, and whether this profile attaches it."""
    enabled = {"Flask-MonitoringDashboard": app.config["DASHBOARD_ENABLED"],
               "flask-profiler": app.config["FLASK_PROFILER_ENABLED"],
               "slow-query log": app.config["SLOW_QUERY_ENABLED"],
               "background jobs": True}  # `flask worker` records every job it runs
    status = []
    for tool, key, filename, tables in STORES:
        url = store_url(app, key, filename)
        local = sqlite_file_missing(url)
        counts = {name: None for name in tables} if local else count_rows(url, tables)
        status.append({"tool": tool, "store": redacted_url(url), "enabled": enabled[tool],
                       "counts": counts})
    files = list_profiles(profile_dir(app))
    status.append({"tool": "ProfilerMiddleware", "store": profile_dir(app),
                   "enabled": app.config["WSGI_PROFILER_ENABLED"],
                   "counts": {".prof files": len(files),
                              "MB": round(sum(f.stat().st_size for f in files) / 1e6, 1)}})
    return status


@monitoring.command("status")
def status_command():
    """Show each store's location and record counts."""
    click.echo(f"profile: {current_app.config['PROFILE']}  version: {current_app.config['APP_VERSION']}")
    for entry in store_status(current_app):
        state = "on" if entry["enabled"] else "off"
        counts = ", ".join(f"{name}: {'-' if n is None else n}" for name, n in entry["counts"].items())
        click.echo(f"{entry['tool']:<26} [{state:>3}] {entry['store']}\n{'':<33}{counts}")
    health = writer_health(current_app)
    if health:
        click.echo("writers (summed over stopped processes):")
        for name, data in health.items():
            error = f"; last error: {data['last_error']}" if data["last_error"] else ""
            click.echo(f"  {name:<16} written {data['written']}, dropped {data['dropped']}{error}")


@monitoring.command("init")
def init_command():
    """Create every store of this profile (run once before starting several workers)."""
    for entry in store_status(current_app):
        if entry["enabled"]:
            click.echo(f"{entry['tool']}: {entry['store']}")


@monitoring.command("prune")
@click.option("--days", type=click.FloatRange(min=0), help="Keep this many days (default: config).")
@click.option("--max-rows", type=click.IntRange(min=0), help="Keep at most this many rows per store.")
def prune_command(days, max_rows):
    """Delete monitoring data older or beyond the retention bounds."""
    from webapp.monitoring.retention import prune

    if days is not None:
        current_app.config["MONITORING_RETENTION_DAYS"] = days
    if max_rows is not None:
        current_app.config["MONITORING_MAX_ROWS"] = max_rows
    for name, count in prune(current_app).items():
        click.echo(f"{name:<14} {count} rows deleted")
