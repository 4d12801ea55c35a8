"""``flask perf report [--version A --against B] [--html FILE] [--fail-over PCT]``.

``--fail-over`` without ``--version/--against`` gates the newest version (by its
last request) against the one before it; with fewer than two versions recorded, or
none of their endpoints in common, there is nothing to gate and it refuses.
"""
import click
from flask import current_app
from flask.cli import with_appcontext

from flask_perf.sql.explain import cached_verdict
from flask_perf.sql.statements import slowest_statements
from flask_perf.report import data, runs
from flask_perf.report.render import compare, html_report, text_report


def collect(app, version=None, against=None, versions_shown=3, newest_pair=False) -> dict:
    """What the report shows; ``newest_pair``: compare the newest version with the previous one."""
    stats = data.dashboard_stats(app)
    known = data.versions_by_recency(stats)
    if newest_pair:
        if len(known) < 2:
            raise click.UsageError(f"--fail-over compares the newest version with the previous one, but "
                                   f"the dashboard store holds {len(known)} version(s)"
                                   f"{': ' + known[0] if known else ''}; record another version first "
                                   "or name them with --version/--against")
        version, against = known[0], known[1]
    for name in (version, against):
        if name is not None and name not in stats:
            raise click.BadParameter(f"no requests recorded for version {name!r}; known: "
                                     f"{', '.join(known[:10]) or 'none'}", param_hint="--version/--against")
    versions = [v for v in (against, version) if v] or known[:versions_shown]
    queries = []
    engine = _engine(app)
    for group in slowest_statements(app, None, engine.dialect.name)[:5] if engine else []:
        verdict = cached_verdict(engine, group["statement"], group["parameters"])
        queries.append({**group, "verdict": verdict.summary() if verdict else "not explainable"})
    return {"stats": stats, "versions": versions, "version": version, "against": against,
            "comparison": compare(stats, version, against) if version and against else None,
            "load_tests": data.load_tests(app), "queries": queries,
            "profiles": data.top_functions(app), "findings": data.query_findings(app),
            "bottlenecks": data.bottlenecks(app), "sections": [section(app) for section in app.extensions["flask_perf"].report_sections]}


def _engine(app):
    try:
        return app.extensions["flask_perf"].primary_engine()
    except LookupError:  # no Flask-SQLAlchemy: no slow queries to explain
        return None


@click.command("report")
@click.option("--version", help="The version to report on (a dashboard version label).")
@click.option("--against", help="The baseline version to compare --version with.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML page with charts.")
@click.option("--fail-over", type=click.FloatRange(min=0), default=None,
              help="Exit 1 when an endpoint's p95 regresses by more than this percent.")
@with_appcontext
def report_command(version, against, html_path, fail_over):
    """Per-endpoint latency per version, slow queries, hot functions, N+1 findings."""
    if bool(version) != bool(against) and (against or fail_over is not None):
        raise click.UsageError("--against needs --version; --fail-over takes both or neither "
                               "(neither: the newest version against the previous one)")
    report = collect(current_app, version, against, newest_pair=fail_over is not None and not version)
    click.echo(text_report(report))
    if html_path:
        with open(html_path, "w") as handle:
            handle.write(html_report(report))
        click.echo(f"\nHTML report: {html_path}")
    if fail_over is not None:
        _gate(report, fail_over)


def _gate(report: dict, fail_over: float) -> None:
    if not report["comparison"]:
        raise click.ClickException(f"--fail-over: no endpoint was requested in both {report['version']} "
                                   f"and {report['against']}: nothing to compare")
    regressed = runs.regressions(report["comparison"], fail_over)
    for row in regressed:
        click.echo(runs.regression_line(row, fail_over), err=True)
    if regressed:
        raise SystemExit(1)
