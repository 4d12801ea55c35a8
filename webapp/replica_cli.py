"""``flask replica pair`` (a local MariaDB primary + replica) and ``flask replica status``."""
import os
import signal
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from webapp.replica import EXTENSION
from webapp.replica_pair import PairError, ReplicaPair

replica_group = AppGroup("replica", help="The read replica: a local pair to try it, its status.")


@replica_group.command("pair")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Where the servers keep their data (default: instance/replica-pair).")
def pair_command(directory):
    """Run a MariaDB primary and its replica on loopback ports until Ctrl-C."""
    directory = Path(directory or os.path.join(current_app.instance_path, "replica-pair"))
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty (another pair running there?)")
    pair = ReplicaPair(directory)
    try:
        pair.start()
    except PairError as exc:
        pair.remove()
        raise click.ClickException(str(exc).splitlines()[0]) from None
    env = directory / "pair.env"
    env.touch(mode=0o600)
    env.write_text(f"export APP_SQLALCHEMY_DATABASE_URI='{pair.primary_url}'\n"
                   f"export APP_READ_REPLICA_URL='{pair.replica_url}'\n")
    click.echo(f"primary on 127.0.0.1:{pair.primary.port}, replica on 127.0.0.1:{pair.replica.port}"
               f" (replicating). In another shell:\n  . {env}\nCtrl-C stops both and deletes "
               f"{directory}.")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it as cleanly as Ctrl-C
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        pair.remove()
        click.echo("pair stopped")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@replica_group.command("status")
def status_command():
    """Which servers the app reads from, and how many statements each has run."""
    engines = {"primary": current_app.extensions["sqlalchemy"].engine}
    router = current_app.extensions.get(EXTENSION)
    if router is None:
        click.echo("no read replica configured (READ_REPLICA_URL): every query uses the primary")
    else:
        engines["replica"] = router.engine
    for role, engine in engines.items():
        url = engine.url.render_as_string(hide_password=True)
        if engine.dialect.name not in ("mysql", "mariadb"):
            click.echo(f"{role:<8} {url}")
            continue
        try:
            with engine.connect() as conn:
                counts = dict(conn.exec_driver_sql(
                    "SHOW GLOBAL STATUS WHERE Variable_name IN "
                    "('Com_select', 'Com_insert', 'Com_delete', 'Queries')").all())
        except sa.exc.DBAPIError as exc:
            click.echo(f"{role:<8} {url}  unreachable: {exc.orig}")
            continue
        click.echo(f"{role:<8} {url}  " + "  ".join(f"{k}={v}" for k, v in sorted(counts.items())))
