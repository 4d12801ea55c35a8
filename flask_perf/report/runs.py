"""Labelled runs in the dashboard store, and the p95 regression gate.

A test run's label is ``<version> test-run <UTC start as %Y-%m-%dT%H:%M:%SZ>`` (the
pytest plugin's). ``test_run_labels()`` lists the test runs a store holds, newest
first, ``previous_run()`` picks the one to compare with, ``version_stats()`` reads
the requests of a few versions only (a store collects months of them).
``regressions()`` and ``regression_line()`` are the gate of both ``flask perf
report --fail-over`` and the plugin's ``--perf-fail-over``.
"""
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import column, func, select, table

from flask_perf.report.data import EndpointStats
from flask_perf.stores.engines import sqlite_file_missing, store_engine

TEST_RUN = " test-run "
LABEL_TIME = "%Y-%m-%dT%H:%M:%SZ"
_REQUEST = table("Request", column("endpoint_id"), column("duration"), column("status_code"),
                 column("version_requested"), column("time_requested"))
_ENDPOINT = table("Endpoint", column("id"), column("name"))
_SUMMARY = table("fmd_rollup_summary", column("version_requested"), column("last_at"))  # dashboard/rollups.py
_PROGRESS = table("perf_rollup_backfill", column("source"), column("done_id"), column("high_id"))


def run_label(version: str, start: datetime) -> str:
    return f"{version}{TEST_RUN}{start.astimezone(timezone.utc):{LABEL_TIME}}"


def label_time(label: str) -> datetime | None:
    """The start time in a test-run label (None for any other label)."""
    _version, found, when = label.rpartition(TEST_RUN)
    try:
        return datetime.strptime(when, LABEL_TIME).replace(tzinfo=timezone.utc) if found else None
    except ValueError:
        return None


def read_rows(url: str, stmt) -> list:
    """Rows of ``stmt`` from the store at ``url``; none when it does not exist (yet)."""
    if sqlite_file_missing(url):
        return []
    engine = store_engine(url, immediate=False)  # a reader: never take the write lock
    try:
        with engine.connect() as conn:
            return list(conn.execute(stmt))
    except Exception:  # no dashboard tables in it (yet)
        return []
    finally:
        engine.dispose()


def test_run_labels(url: str) -> list[str]:
    """The test-run labels of the dashboard store at ``url``, newest first: from the summary
    rollup (a row per endpoint, version and user) once the store's history is rolled up,
    else from every request (a LIKE no index serves: 1 s at 5M requests)."""
    summary, progress = _SUMMARY.c, _PROGRESS.c
    rolled_up = read_rows(url, select(progress.done_id >= progress.high_id).where(progress.source == "dashboard"))
    column, last = ((summary.version_requested, func.max(summary.last_at)) if rolled_up and rolled_up[0][0]
                    else (_REQUEST.c.version_requested, func.max(_REQUEST.c.time_requested)))
    stmt = select(column, last).where(column.like(f"%{TEST_RUN}%")).group_by(column)
    runs = [(label_time(label), str(last), label) for label, last in read_rows(url, stmt)]
    return [label for when, last, label in sorted((r for r in runs if r[0]), reverse=True)]


def previous_run(labels: list[str], current: str) -> str | None:
    """The newest test run started before ``current`` (labels newest first)."""
    started = label_time(current)
    return next((label for label in labels if label != current
                 and (started is None or label_time(label) <= started)), None)


def version_stats(url: str, versions) -> dict[str, dict[str, EndpointStats]]:
    """version → endpoint → stats, for ``versions`` only (latencies in ms, sorted)."""
    stmt = (select(_ENDPOINT.c.name, _REQUEST.c.version_requested, _REQUEST.c.duration,
                   _REQUEST.c.status_code, _REQUEST.c.time_requested)
            .join(_ENDPOINT, _ENDPOINT.c.id == _REQUEST.c.endpoint_id)
            .where(_REQUEST.c.version_requested.in_(list(versions))))
    result: dict[str, dict[str, EndpointStats]] = defaultdict(dict)
    for name, version, duration, status, when in read_rows(url, stmt):
        stats = result[version].setdefault(name, EndpointStats(name, version))
        stats.durations.append(float(duration))
        stats.errors += int(status or 0) >= 500
        stats.last_seen = max(stats.last_seen, str(when))
    for per_endpoint in result.values():
        for stats in per_endpoint.values():
            stats.durations.sort()
    return dict(result)


def merge_stats(parts) -> dict[str, EndpointStats]:
    """One endpoint → stats mapping from several stores' (same version)."""
    merged: dict[str, EndpointStats] = {}
    for per_endpoint in parts:
        for name, stats in per_endpoint.items():
            into = merged.setdefault(name, EndpointStats(name, stats.version))
            into.durations += stats.durations
            into.errors += stats.errors
            into.last_seen = max(into.last_seen, stats.last_seen)
    for stats in merged.values():
        stats.durations.sort()
    return merged


def regressions(comparison: list[dict], fail_over: float) -> list[dict]:
    """Rows of ``render.compare`` whose p95 grew by more than ``fail_over`` percent."""
    return [row for row in comparison if row["change"] > fail_over]


def regression_line(row: dict, fail_over: float) -> str:
    return (f"REGRESSION {row['endpoint']}: p95 {row['change']:+.0f}% > {fail_over:g}% "
            f"({row['old_p95']:.1f} → {row['new_p95']:.1f} ms)")
