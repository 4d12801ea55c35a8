"""Retention: raw rows kept for a window, rollups much longer; pruned without hurting the app.

Reads PERF_RETENTION_DAYS (raw rows: requests, stacks, measurements, slow queries;
default 30), PERF_RETENTION_MAX_ROWS (per store's main table, default 1,000,000),
PERF_ROLLUP_RETENTION_DAYS (rollup tables, by their ``period`` or ``last_at`` column;
default 400), PERF_STACKS_PER_VERSION (call stacks kept per endpoint
and version, default 200), PERF_PRUNE_CHUNK_ROWS (ids per delete transaction) and
PERF_PRUNE_INTERVAL_S (default 3600; 0: only ``flask perf prune``).

It runs in the background when a process records its first request and then every
interval (at most once per interval per store dir, whichever process gets there; one
at a time), after ``flask perf loadtest`` stopped its server, at the end of a pytest
``--perf`` run, and on ``flask perf prune``. Each store: chunked deletes of old and
surplus rows with their dependents (pruning.py), the stack sample and orphan endpoints
(dashboard_retention.py), old rollup rows, then the freed pages go back to the disk
(compaction.py) and the planner's statistics are refreshed (statistics.py). Rows a
backfill has not rolled up yet stay. Nothing here is reachable over HTTP.
"""
import logging
from dataclasses import dataclass

from sqlalchemy import inspect

from flask_perf.stores import compaction, dashboard_retention, pruner, pruning, rollup_retention
from flask_perf.stores.engines import sqlite_file_missing, store_engine, store_url
from flask_perf.stores.statistics import analyze
from flask_perf.stores.pruner import Pruner
from flask_perf.stores.registry import Store, stores

logger = logging.getLogger("flask_perf")


@dataclass(frozen=True)
class Policy:
    days: float = 30
    max_rows: int = 1_000_000
    rollup_days: float = 400
    stacks_per_version: int = 200
    chunk_rows: int = 500

    @classmethod
    def of(cls, config) -> "Policy":
        return cls(float(config.get("PERF_RETENTION_DAYS", cls.days)),
                   int(config.get("PERF_RETENTION_MAX_ROWS", cls.max_rows)),
                   float(config.get("PERF_ROLLUP_RETENTION_DAYS", cls.rollup_days)),
                   int(config.get("PERF_STACKS_PER_VERSION", cls.stacks_per_version)),
                   max(1, int(config.get("PERF_PRUNE_CHUNK_ROWS", cls.chunk_rows))))


@dataclass(frozen=True)
class Target:
    """One store of one app, as retention needs it (no reference to the app)."""
    store: Store
    url: str
    policy: Policy
    store_dir: str
    keep_endpoints: frozenset = frozenset()  # the app's views: FMD holds their ids


def targets(app) -> list[Target]:
    policy, keep = Policy.of(app.config), frozenset(app.view_functions)
    return [Target(store, store_url(app, store.config_key, store.filename), policy,
                   app.config["PERF_STORE_DIR"], keep) for store in stores(app)]


def prune(app) -> dict[str, int]:
    """Apply retention to every store of ``app`` now; rows deleted per table."""
    return prune_targets(targets(app))


def prune_targets(targets_, wait: bool = True) -> dict[str, int]:
    """Prune each store once, one store dir at a time under its lock (``wait=False``:
    skip a dir another process is pruning)."""
    deleted: dict[str, int] = {}
    for directory in dict.fromkeys(t.store_dir for t in targets_):
        try:
            with pruner.exclusive(directory, wait):
                for target in {t.url: t for t in targets_ if t.store_dir == directory}.values():
                    for table, count in prune_store(target).items():
                        deleted[table] = deleted.get(table, 0) + count
                pruner.touch(directory)
        except BlockingIOError:
            continue
    return deleted


def vacuum_stores(app) -> list[tuple[str, int, int]]:
    """``flask perf prune --vacuum``: each SQLite store of ``app`` rewritten once."""
    return compaction.vacuum_files(dict.fromkeys(t.url for t in targets(app)))


def prune_quietly(app_or_targets, wait: bool = True) -> None:
    """``prune`` for the end of a load test or test run, and the pruner: logs, never raises."""
    try:
        found = prune_targets(app_or_targets if isinstance(app_or_targets, list) else targets(app_or_targets),
                              wait)
        if any(found.values()):
            logger.info("pruned monitoring data: %s", found)
    except Exception:
        logger.warning("pruning the monitoring stores failed", exc_info=True)


def prune_store(target: Target) -> dict[str, int]:
    if sqlite_file_missing(target.url):
        return {}
    policy, store = target.policy, target.store
    chunks = pruning.Chunks(store_engine(target.url, immediate=False), store_engine(target.url),
                            rows=policy.chunk_rows)
    deleted: dict[str, int] = {}
    try:
        tables = set(inspect(chunks.reader).get_table_names())
        for table, column, children in store.prune:
            if table in tables:
                kids = [child for child in children if child in tables]
                deleted[table] = (pruning.older_than(chunks, table, column, kids, policy.days)
                                  + pruning.beyond_newest(chunks, table, kids, policy.max_rows))
        if "stack_sample" in store.maintenance and {"Request", "StackLine"} <= tables:
            deleted["StackLine (beyond the sample)"] = dashboard_retention.trim_stacks(
                chunks, policy.stacks_per_version)
        if "orphan_endpoints" in store.maintenance and {"Request", "Endpoint"} <= tables:
            deleted["Endpoint"] = dashboard_retention.drop_orphan_endpoints(chunks, policy.days,
                                                                             target.keep_endpoints)
        for table, column in rollup_retention.rollup_tiers(chunks.reader, tables):
            deleted[table] = rollup_retention.older_than(chunks, table, column, policy.rollup_days)
        analyze(chunks.writer)
        compaction.compact(chunks.writer)
        return deleted
    finally:
        chunks.reader.dispose()
        chunks.writer.dispose()


def init_app(app) -> None:
    """The pruner starts with the first writer thread of each process (no per-request check)."""
    pruner_ = Pruner(app, prune_quietly)
    for writer in app.extensions["flask_perf"].writers.values():
        writer.when_started(pruner_.ensure_started)
