"""``flask profiles``: list the ``.prof`` files and render call graphs of them.

The graph is gprof2dot's pstats output piped through Graphviz ``dot`` into SVG.
"""
import os
import shutil
import subprocess
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from flask_perf.wsgi_profiler import NAME, list_profiles, profile_dir


@click.group("profiles", cls=AppGroup, invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.pass_context
@with_appcontext
def profiles(ctx, limit):
    """List the newest .prof files (werkzeug ProfilerMiddleware)."""
    if ctx.invoked_subcommand is not None:
        return
    directory = profile_dir(current_app)
    entries = list_profiles(directory)
    if not entries:
        click.echo(f"No .prof files in {directory} (the 'profiling' profile writes them).")
        return
    click.echo(f"{len(entries)} .prof files in {directory}, newest first:")
    click.echo(f"{'when':<19}  {'method':<6}  {'ms':>7}  {'path':<30}  file")
    for entry in entries[:limit]:
        match = NAME.match(entry.name)
        when = datetime.fromtimestamp(entry.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
        method, ms, path = (match["method"], match["ms"], match["path"]) if match else ("?", "?", "?")
        click.echo(f"{when:<19}  {method:<6}  {ms:>7}  /{path.replace('.', '/'):<29}  {entry.name}")
    click.echo("Open one in a browser: snakeviz <file>; draw a call graph: flask --app wsgi profiles graph")


@profiles.command("graph")
@click.argument("file", required=False)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="SVG path (default: FILE.svg).")
@click.option("--node-thres", default=0.5, show_default=True, type=float,
              help="Hide nodes under this percentage of total time.")
def graph(file, output, node_thres):
    """Render FILE (default: the newest .prof) as an SVG call graph."""
    directory = profile_dir(current_app)
    if file is None:
        entries = list_profiles(directory)
        if not entries:
            raise click.ClickException(f"no .prof files in {directory}")
        file = entries[0].path
    elif not os.path.exists(file) and os.path.exists(os.path.join(directory, file)):
        file = os.path.join(directory, file)
    if not os.path.isfile(file):
        raise click.ClickException(f"no such profile: {file}")
    dot = shutil.which("dot")
    if dot is None:
        raise click.ClickException("Graphviz 'dot' is not installed (apt-get install graphviz)")
    output = output or file + ".svg"
    gprof2dot = [sys.executable, "-m", "gprof2dot", "-f", "pstats", "-n", str(node_thres), file]
    try:
        dot_source = subprocess.run(gprof2dot, capture_output=True, check=True, timeout=120).stdout
        subprocess.run([dot, "-Tsvg", "-o", output], input=dot_source, capture_output=True,
                       check=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        raise click.ClickException(f"cannot render {file}: {message[0]}") from None
    click.echo(f"Wrote {output}")
