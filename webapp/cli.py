"""Thin click commands: each parses options and calls library code."""
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp import seed as seeding
from webapp.urls import tool_urls


@click.command("seed")
@click.option("--students", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--classes", default=1_000, show_default=True, type=click.IntRange(min=1))
@click.option("--per-student", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", "random_seed", default=42, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Drop the school tables and seed again.")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when data is already there.")
@with_appcontext
def seed_command(students, classes, per_student, random_seed, reset, if_empty):
    """Create the schema and fill it with deterministic sample data."""
    plan = seeding.SeedPlan(students, classes, per_student, random_seed)
    if per_student > classes:
        raise click.BadParameter("cannot exceed --classes", param_hint="--per-student")
    started = time.perf_counter()
    try:
        with click.progressbar(length=plan.total_rows, label="Seeding", file=sys.stderr) as bar:
            seeding.seed(plan, reset=reset, progress=bar.update)
    except seeding.AlreadySeeded as exc:
        if if_empty:
            click.echo(f"Seed skipped: {exc}.")
            return
        raise click.ClickException(f"{exc}; refusing to add a second copy (use --reset)") from None
    click.echo(f"Seeded {students} students, {classes} classes, {students * per_student} "
               f"enrollments in {time.perf_counter() - started:.1f}s "
               f"({current_app.extensions['sqlalchemy'].engine.url.render_as_string(hide_password=True)}).")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def serve_command(host, port):
    """Serve the app (threaded, no reloader) and print the URLs to browse."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()
    base = f"http://{host}:{port}"
    click.echo(f"flask-perf ({app.config['PERF_PROFILE']} profile) on {base}")
    for name, path in [("home", "/"), ("roster", "/roster?class_id=1"),
                       ("my_class (toolbar)", "/my_class?student_id=1"), *tool_urls(app).items()]:
        if path:
            click.echo(f"  {name:<22} {base}{path}")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def init_app(app) -> None:
    from flask_perf.loadtest.cli import loadtest
    from webapp.replica_cli import replica_group

    app.cli.add_command(loadtest)
    app.cli.add_command(seed_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(replica_group)
