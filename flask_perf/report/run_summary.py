"""The summary of one labelled test run, read from the stores its apps wrote.

``summarize()`` takes the run's label, the dashboard and slow-query stores the run's
apps wrote to, and the EXPLAIN verdicts the slow-query log logged during the run
(the ``slow_query`` table keeps none, and a test's database is usually gone by the
end of the session). It returns the lines the pytest plugin prints (slowest
endpoints, N+1 findings, slow queries with their full scans, p95 against the
previous test run of each store) and the endpoints that regressed past the gate.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from flask_perf.report import runs
from flask_perf.report.render import compare
from flask_perf.sql.nplusone import query_finding
from flask_perf.sql.shapes import normalize
from flask_perf.sql.slow_queries import slow_query


@dataclass
class RunSummary:
    label: str
    lines: list[str] = field(default_factory=list)
    regressions: list[dict] = field(default_factory=list)
    failed: bool = False  # the stores could not be read: a gate cannot pass


def summarize(label: str, dashboards, query_stores, verdicts: dict[str, str],
              fail_over: float | None = None, top: int = 10) -> RunSummary:
    """``dashboards``/``query_stores``: store URLs; ``verdicts``: statement shape → plan text."""
    summary = RunSummary(label)
    out = summary.lines
    stats = runs.merge_stats(runs.version_stats(url, [label]).get(label, {}) for url in dashboards)
    count = sum(s.count for s in stats.values())
    out.append(f"run {label}: {count} requests to {len(stats)} endpoint{'' if len(stats) == 1 else 's'}")
    if not dashboards:
        out.append("no app attached flask_perf with its dashboard during this run: nothing recorded")
    out += ["", f"== Slowest endpoints (p95, ms; top {top})",
            f"{'endpoint':<32} {'count':>7} {'p50':>8} {'p95':>8} {'5xx':>5}"]
    for s in sorted(stats.values(), key=lambda s: s.p(95), reverse=True)[:top]:
        out.append(f"{s.endpoint[:32]:<32} {s.count:>7} {s.p(50):>8.1f} {s.p(95):>8.1f} {s.errors:>5}")
    out += ["", "== N+1 and duplicate queries", *_finding_lines(query_stores, label)]
    out += ["", "== Slow queries and full scans (slow-query log, EXPLAIN at request time)",
            *_slow_query_lines(query_stores, label, verdicts)]
    out += ["", *_comparison_lines(summary, dashboards, fail_over)]
    return summary


def _finding_lines(urls, label: str) -> list[str]:
    stmt = (select(query_finding.c.endpoint, query_finding.c.kind, query_finding.c.shape,
                   func.count(), func.max(query_finding.c.count))
            .where(query_finding.c.app_version == label)
            .group_by(query_finding.c.endpoint, query_finding.c.kind, query_finding.c.shape))
    found: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # → [requests, most repeats]
    for url in urls:
        for endpoint, kind, shape, requests, most in runs.read_rows(url, stmt):
            counts = found[(endpoint or "?", kind, shape)]
            counts[0], counts[1] = counts[0] + requests, max(counts[1], most)
    lines = [f"{kind:<10} {endpoint[:32]:<32} in {requests} requests, up to {most}× {shape[:100]}"
             for (endpoint, kind, shape), (requests, most) in sorted(found.items(), key=lambda i: -i[1][0])]
    return lines or ["none found"]


def _slow_query_lines(urls, label: str, verdicts: dict[str, str]) -> list[str]:
    stmt = (select(slow_query.c.endpoint, slow_query.c.statement, slow_query.c.duration_ms)
            .where(slow_query.c.app_version == label))
    groups: dict[str, dict] = {}
    for url in urls:
        for endpoint, statement, duration in runs.read_rows(url, stmt):
            group = groups.setdefault(normalize(statement), {"count": 0, "max": 0.0, "endpoints": set()})
            group["count"] += 1
            group["max"] = max(group["max"], duration)
            group["endpoints"].add(endpoint or "?")
    lines = []
    for shape, group in sorted(groups.items(), key=lambda i: ("FULL SCAN" not in verdicts.get(i[0], ""),
                                                               -i[1]["max"])):
        lines.append(f"{group['count']:>5}× up to {group['max']:.1f} ms on "
                     f"{', '.join(sorted(group['endpoints']))[:60]}: {shape[:100]}")
        lines.append(f"{'':>7}{verdicts.get(shape, 'plan not captured (logged by another process)')}")
    return lines or ["none recorded (only queries over PERF_SLOW_QUERY_MS are logged)"]


def _comparison_lines(summary: RunSummary, dashboards, fail_over: float | None) -> list[str]:
    lines, label = [], summary.label
    for url in dashboards:
        previous = runs.previous_run(runs.test_run_labels(url), label)
        if previous is None:
            continue
        rows = compare(runs.version_stats(url, [label, previous]), label, previous)
        lines.append(f"== Against the previous test run {previous} (p95, ms)")
        lines += [f"{row['endpoint'][:32]:<32} {row['old_p95']:>8.1f} → {row['new_p95']:>8.1f} "
                  f"({row['change']:+.0f}%)" for row in rows] or ["no endpoint requested in both runs"]
        if len(dashboards) > 1:
            lines.append(f"(store {url})")
        if fail_over is not None:
            summary.regressions += runs.regressions(rows, fail_over)
    if not lines:
        lines.append(f"no earlier test run in {_stores(dashboards)}: nothing to compare"
                     + (", the gate passes" if fail_over is not None else ""))
    for row in summary.regressions:
        lines.append(runs.regression_line(row, fail_over))
    if fail_over is not None and lines and not summary.regressions and "nothing to compare" not in lines[-1]:
        lines.append(f"no endpoint's p95 regressed by more than {fail_over:g}%")
    return lines


def _stores(dashboards) -> str:
    if len(dashboards) == 1:
        return dashboards[0].removeprefix("sqlite:///")
    return f"the run's {len(dashboards)} dashboard stores (--perf-store-dir keeps runs in one)"
