"""``flask perf explain`` and ``flask perf indexes``: the write-up's recipe, done for the user.

``explain`` takes the slowest distinct statements from the slow-query store, runs
EXPLAIN on each (bound parameters of its slowest sample) and prints the verdict
and the CREATE INDEX hint. ``indexes`` lists the indexes those verdicts ask for,
from the statements the app actually ran; ``--apply`` creates them and ``--drop``
removes them again (before/after can be replayed).
"""
import time
from collections import defaultdict

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Index, MetaData, Table, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from flask_perf.cli_types import Duration
from flask_perf.sql import explain as explainer
from flask_perf.sql.shapes import normalize
from flask_perf.sql.slow_queries import slow_query
from flask_perf.stores.engines import store_engine, store_url


def slowest_statements(app, since_s: float | None, dialect: str) -> list[dict]:
    """Slow-query rows grouped by shape: count, mean, max and the slowest sample.

    The rows are streamed without their parameters (up to PERF_MAX_RECORD_CHARS each) and
    each distinct statement text is normalised once; only the slowest sample of each shape
    has its parameters read, by id. The store holds up to PERF_RETENTION_MAX_ROWS rows."""
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    columns = slow_query.c
    stmt = select(columns.id, columns.statement, columns.endpoint, columns.duration_ms).where(
        columns.dialect == dialect)
    if since_s:
        stmt = stmt.where(columns.recorded_at >= time.time() - since_s)
    groups: dict[str, dict] = defaultdict(lambda: {"count": 0, "total": 0.0, "max": -1.0, "endpoints": set()})
    shapes: dict[str, str] = {}  # statement text -> shape
    try:
        with engine.connect() as conn:
            for row_id, statement, endpoint, duration in conn.execution_options(yield_per=5000).execute(stmt):
                shape = shapes.get(statement)
                if shape is None:
                    shape = shapes[statement] = normalize(statement)
                group = groups[shape]
                group["count"] += 1
                group["total"] += duration
                group["endpoints"].add(endpoint)
                if duration > group["max"]:
                    group.update(max=duration, statement=statement, id=row_id)
            ids, parameters = [group["id"] for group in groups.values()], {}
            for start in range(0, len(ids), 500):  # within any backend's limit of bound values
                chosen = columns.id.in_(ids[start:start + 500])
                parameters.update(conn.execute(select(columns.id, columns.parameters).where(chosen)).all())
    except SQLAlchemyError:  # no store yet
        return []
    finally:
        engine.dispose()
    result = [{**{k: v for k, v in g.items() if k != "id"}, "parameters": parameters.get(g["id"]),
               "shape": shape, "mean": g["total"] / g["count"]} for shape, g in groups.items()]
    return sorted(result, key=lambda g: g["mean"], reverse=True)


@click.command("explain")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--since", type=Duration(), help="Only queries recorded in this window (e.g. 1h, 7d).")
@with_appcontext
def explain_command(top, since):
    """EXPLAIN the slowest distinct statements of the slow-query log, with index hints."""
    engine = _engine()
    groups = slowest_statements(current_app, since, engine.dialect.name)
    if not groups:
        raise click.ClickException("the slow-query log holds no statement for this database yet: "
                                   "browse or load-test the app (PERF_SLOW_QUERY_MS=0 logs all)")
    for rank, group in enumerate(groups[:top], 1):
        endpoints = ", ".join(sorted(e or "?" for e in group["endpoints"]))
        click.echo(f"{rank}. mean {group['mean']:.1f} ms, max {group['max']:.1f} ms, "
                   f"{group['count']}× — {endpoints}")
        click.echo(f"   {group['shape'][:300]}")
        try:
            verdict = explainer.explain_and_analyze(engine, group["statement"], group["parameters"])
        except Exception as exc:  # not a SELECT, or the database refused it
            click.echo(f"   cannot explain: {exc}")
            continue
        for table in verdict.tables:
            click.echo(f"   {table.describe()}")


def _engine():
    try:
        return current_app.extensions["flask_perf"].primary_engine()
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def hinted_indexes(app, engine) -> dict[str, "explainer.IndexHint"]:
    """Hints from every statement of the slow-query store (what the app actually ran)."""
    samples = [(g["statement"], g["parameters"])
               for g in slowest_statements(app, None, engine.dialect.name)]
    hints = {}
    for statement, parameters in samples:
        try:
            verdict = explainer.explain_and_analyze(engine, statement, parameters)
        except Exception:
            continue
        hints.update({t.hint.name: t.hint for t in verdict.full_scans if t.hint})
    return hints


@click.command("indexes")
@click.option("--apply", "apply_", is_flag=True, help="Create the hinted indexes.")
@click.option("--drop", is_flag=True, help="Drop the indexes created by --apply.")
@with_appcontext
def indexes_command(apply_, drop):
    """Show the indexes the EXPLAIN verdicts ask for; create or drop them."""
    if apply_ and drop:
        raise click.UsageError("--apply and --drop exclude each other")
    engine = _engine()
    existing = {ix["name"]: table for table in inspect(engine).get_table_names()
                for ix in inspect(engine).get_indexes(table) if ix["name"].startswith("ix_hint_")}
    if drop:
        for name, table in existing.items():
            reflected = Table(table, MetaData(), autoload_with=engine)
            next(ix for ix in reflected.indexes if ix.name == name).drop(engine)
            click.echo(f"dropped {name} on {table}")
        if not existing:
            click.echo("no hinted index to drop")
        return
    hints = hinted_indexes(current_app, engine)
    for name, table in existing.items():
        click.echo(f"present: {name} on {table}")
    for hint in hints.values():
        if hint.name in existing:
            continue
        if apply_:
            reflected = Table(hint.table, MetaData(), autoload_with=engine)
            Index(hint.name, *(reflected.c[c] for c in hint.columns)).create(engine)
            click.echo(f"created: {hint.create_sql}")
        else:
            click.echo(f"hint:    {hint.create_sql}")
    if not hints and not existing:
        click.echo("no full scan found: no index to add")
