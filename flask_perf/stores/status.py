"""``flask perf status``, ``init`` and ``prune``: where each tool stores its data and how much it holds.

It reads the stores directly (never the request-time objects), so it works while
the app is serving and for stores of profiles other than the running one.
"""
import json
import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, inspect, select, table

from flask_perf.stores.engines import (health_dir, redacted_url, sqlite_file_missing, store_engine,
                                      store_url)
from flask_perf.stores.backfill import progress
from flask_perf.stores.registry import stores
from flask_perf.wsgi_profiler import list_profiles, profile_dir



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


def rollup_progress(url: str) -> list[str]:
    """Per source of the store: its rollups complete, or how far the roll-up of its older
    rows got (backfill.py); [] before rollups or for an unreadable store."""
    engine = store_engine(url, immediate=False)
    try:
        if progress.name not in inspect(engine).get_table_names():
            return []
        with engine.connect() as conn:
            marks = conn.execute(select(progress).order_by(progress.c.source)).all()
    except Exception:  # an unreadable store is reported by its counts
        return []
    finally:
        engine.dispose()
    lines = []
    for mark in marks:
        if mark.done_id >= mark.high_id:
            lines.append(f"rollups of {mark.source}: complete ({mark.rows_done} older rows rolled up)")
            continue
        span = max(1, mark.high_id - mark.low_id + 1)
        share = max(0, mark.done_id - mark.low_id + 1) / span
        lines.append(f"rollups of {mark.source}: rolling up older rows, {share:.0%} "
                     f"({mark.rows_done} of about {span} rows; ids up to {mark.high_id})")
    return lines


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
    status = []
    for store in stores(app):
        url = store_url(app, store.config_key, store.filename)
        local = sqlite_file_missing(url)
        counts = {name: None for name in store.tables} if local else count_rows(url, store.tables)
        status.append({"tool": store.tool, "store": redacted_url(url), "enabled": store.enabled(app),
                       "rollups": [] if local else rollup_progress(url),
                       "counts": counts})
    files = list_profiles(profile_dir(app))
    status.append({"tool": "ProfilerMiddleware", "store": profile_dir(app),
                   "enabled": app.config["PERF_WSGI_PROFILER_ENABLED"],
                   "counts": {".prof files": len(files),
                              "MB": round(sum(f.stat().st_size for f in files) / 1e6, 1)}})
    return status


@click.command("status")
@with_appcontext
def status_command():
    """Show each store's location and record counts."""
    click.echo(f"profile: {current_app.config['PERF_PROFILE']}  version: {current_app.config['PERF_VERSION']}")
    for entry in store_status(current_app):
        state = "on" if entry["enabled"] else "off"
        counts = ", ".join(f"{name}: {'-' if n is None else n}" for name, n in entry["counts"].items())
        click.echo(f"{entry['tool']:<26} [{state:>3}] {entry['store']}\n{'':<33}{counts}")
        for line in entry.get("rollups", ()):
            click.echo(f"{'':<33}{line}")
    health = writer_health(current_app)
    if health:
        click.echo("writers (summed over stopped processes):")
        for name, data in health.items():
            error = f"; last error: {data['last_error']}" if data["last_error"] else ""
            click.echo(f"  {name:<16} written {data['written']}, dropped {data['dropped']}{error}")


@click.command("init")
@with_appcontext
def init_command():
    """Create every store of this profile (run once before starting several workers)."""
    for entry in store_status(current_app):
        if entry["enabled"]:
            click.echo(f"{entry['tool']}: {entry['store']}")


@click.command("prune")
@click.option("--days", type=click.FloatRange(min=0), help="Keep this many days (default: config).")
@click.option("--max-rows", type=click.IntRange(min=0), help="Keep at most this many rows per store.")
@click.option("--vacuum", is_flag=True, help="Then rewrite each SQLite store once (VACUUM): shrinks "
              "a store created before incremental vacuum; its writers wait until it is done.")
@with_appcontext
def prune_command(days, max_rows, vacuum):
    """Delete monitoring data older or beyond the retention bounds."""
    from flask_perf.stores.pruner import lower_priority
    from flask_perf.stores.retention import prune, vacuum_stores

    lower_priority()  # the app serving from these stores comes first
    if days is not None:
        current_app.config["PERF_RETENTION_DAYS"] = days
    if max_rows is not None:
        current_app.config["PERF_RETENTION_MAX_ROWS"] = max_rows
    for name, count in prune(current_app).items():
        click.echo(f"{name:<14} {count} rows deleted")
    for url, before, after in vacuum_stores(current_app) if vacuum else ():
        click.echo(f"vacuumed {url}: {before / 1e6:.1f} → {after / 1e6:.1f} MB")
