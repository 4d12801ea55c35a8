"""The report as terminal text and as one self-contained HTML page (inline SVG charts)."""
import html
import math

from flask_perf.report.data import EndpointStats


def compare(stats, version: str, against: str) -> list[dict]:
    """Per endpoint seen in both versions: p95 of each and the change in percent."""
    rows = []
    for name in sorted(set(stats.get(version, {})) & set(stats.get(against, {}))):
        new, old = stats[version][name], stats[against][name]
        change = (new.p(95) - old.p(95)) / old.p(95) * 100 if old.p(95) else math.inf
        rows.append({"endpoint": name, "old_p95": old.p(95), "new_p95": new.p(95), "change": change,
                     "old_count": old.count, "new_count": new.count,
                     "old_p50": old.p(50), "new_p50": new.p(50)})
    return rows


def endpoint_lines(stats, versions) -> list[str]:
    lines = [f"{'version':<40} {'endpoint':<18} {'count':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'5xx':>6}"]
    for version in versions:
        for name, s in sorted(stats[version].items()):
            lines.append(f"{version[:40]:<40} {name[:18]:<18} {s.count:>7} {s.p(50):>8.1f} "
                         f"{s.p(95):>8.1f} {s.p(99):>8.1f} {s.error_rate:>6.1%}")
    return lines


def bottleneck_lines(rows: list[dict]) -> list[str]:
    """Each endpoint's verdict (DB-, I/O- or CPU-bound) with its shares and remedy."""
    out = ["", "== Which kind of bottleneck? (share of profiled time per endpoint)"]
    if not rows:
        out.append("no profiles yet: the profiling profile writes .prof files, the development "
                   "profile level-3 call stacks")
    for row in rows:
        shares = row["shares"]
        out.append(f"{row['endpoint'][:24]:<24} {shares.summary():<48} "
                   f"[{row['source']}, {shares.total / shares.profiles * 1000:.0f} ms each]")
        out.append(f"{'':<24} remedy: {shares.remedy}")
    return out


def text_report(report: dict, endpoints: bool = True) -> str:
    """The terminal report; ``endpoints=False`` leaves out the per-endpoint tables (HTML has its own)."""
    out = []
    if endpoints:
        out = ["== Endpoints (dashboard store; latency in ms)"]
        out += (endpoint_lines(report["stats"], report["versions"]) if report["versions"]
                else ["no requests recorded yet"])
        out += bottleneck_lines(report.get("bottlenecks") or [])
    if report.get("comparison") is not None:
        out += ["", f"== {report['version']} against {report['against']} (p95)"][not out:]
        for row in report["comparison"]:
            out.append(f"{row['endpoint']:<18} {row['old_p95']:>8.1f} → {row['new_p95']:>8.1f} ms "
                       f"({row['change']:+.0f}%)")
    out += ["", "== Load tests (newest last)"]
    for run in report["load_tests"][-5:]:
        total = run["locust"]["total"]
        out.append(f"{run['run_id']:<34} {run['profile'] or 'url':<12} {run['app_version'][:28]:<28} "
                   f"{total['requests']:>7} req {total['rps']:>7.1f}/s p50 {total['p50_ms']:.0f} "
                   f"p95 {total['p95_ms']:.0f} ms")
    for lines in report.get("sections") or []:
        out += ["", *lines]
    out += ["", "== Slowest queries (slow-query log) with the EXPLAIN verdict"]
    for q in report["queries"]:
        out.append(f"{q['mean']:>8.1f} ms mean {q['count']:>6}× {q['shape'][:110]}")
        out.append(f"{'':>10}{q['verdict']}")
    out += ["", f"== Top functions by own time ({report['profiles'][0]} newest .prof files)"]
    for f in report["profiles"][1]:
        out.append(f"{f['own_ms']:>10.1f} ms own {f['cumulative_ms']:>10.1f} ms cum {f['calls']:>8} "
                   f"calls  {f['function'][:80]}")
    out += ["", "== N+1 and duplicate queries"]
    for f in report["findings"] or []:
        out.append(f"{f['kind']:<10} {f['endpoint'] or '?':<18} in {f['requests']} requests, up to "
                   f"{f['max_repeat']}× {f['shape'][:80]}")
    if not report["findings"]:
        out.append("none found")
    return "\n".join(out)


def _box_svg(series: list[EndpointStats]) -> str:
    """Horizontal box plots (p5, p25, p50, p75, p95) of one endpoint, one row per version."""
    top = max((s.p(99) for s in series), default=1) or 1
    width, row, left = 640, 34, 260
    scale = (width - left - 20) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(series) + 30}" '
             f'role="img" class="latency-chart">']
    for i, s in enumerate(series):
        y = 10 + i * row
        x = {q: left + s.p(q) * scale for q in (5, 25, 50, 75, 95)}
        parts.append(f'<text x="4" y="{y + 16}" font-size="12">{html.escape(s.version[:38])}</text>'
                     f'<line x1="{x[5]:.1f}" x2="{x[95]:.1f}" y1="{y + 12}" y2="{y + 12}" stroke="#555"/>'
                     f'<rect x="{x[25]:.1f}" y="{y + 2}" width="{max(1, x[75] - x[25]):.1f}" height="20" '
                     f'fill="#9cc3e6" stroke="#1f5f99"/>'
                     f'<line x1="{x[50]:.1f}" x2="{x[50]:.1f}" y1="{y + 2}" y2="{y + 22}" stroke="#b00" '
                     f'stroke-width="2"><title>p50 {s.p(50):.1f} ms</title></line>')
    axis_y = 10 + row * len(series)
    parts.append(f'<text x="{left}" y="{axis_y + 14}" font-size="11">0 ms</text>'
                 f'<text x="{width - 90}" y="{axis_y + 14}" font-size="11">{top:.0f} ms</text></svg>')
    return "".join(parts)


def bottleneck_table(rows: list[dict]) -> str:
    esc = html.escape
    parts = ["<h2>Which kind of bottleneck?</h2>"]
    if not rows:
        return parts[0] + "<p>No profiles yet (profiling profile: .prof files; development: level 3).</p>"
    parts.append("<table><tr><th>endpoint</th><th>verdict</th><th>profiled</th><th>remedy</th></tr>")
    for row in rows:
        shares = row["shares"]
        parts.append(f"<tr><td>{esc(row['endpoint'])}</td><td>{esc(shares.summary())}</td>"
                     f"<td>{esc(row['source'])}</td><td>{esc(shares.remedy)}</td></tr>")
    return "".join(parts) + "</table>"


def html_report(report: dict) -> str:
    esc = html.escape
    body = ["<h1>flask-perf report</h1>", "<h2>Endpoints</h2>",
            "<table><tr><th>version</th><th>endpoint</th><th>count</th><th>p50</th><th>p95</th>"
            "<th>p99</th><th>5xx</th></tr>"]
    for version in report["versions"]:
        for name, s in sorted(report["stats"][version].items()):
            body.append(f"<tr><td>{esc(version)}</td><td>{esc(name)}</td><td>{s.count}</td>"
                        f"<td>{s.p(50):.1f}</td><td>{s.p(95):.1f}</td><td>{s.p(99):.1f}</td>"
                        f"<td>{s.error_rate:.1%}</td></tr>")
    body.append("</table><h2>Latency distribution per endpoint and version</h2>")
    endpoints = sorted({n for v in report["versions"] for n in report["stats"][v]})
    for name in endpoints:
        series = [report["stats"][v][name] for v in report["versions"] if name in report["stats"][v]]
        body.append(f'<h3>{esc(name)}</h3><p class="legend">box: p25–p75, red: median, '
                    f"whiskers: p5–p95</p>{_box_svg(series)}")
    body.append(bottleneck_table(report.get("bottlenecks") or []))
    body.append(f"<h2>Everything else</h2><pre>{esc(text_report(report, endpoints=False))}</pre>")
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:"
             "collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}"
             "pre{background:#f6f6f6;padding:1rem;overflow-x:auto}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flask-perf report'
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
