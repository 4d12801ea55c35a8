"""``flask --app wsgi grading-service``: the stand-in external API, started like the app."""
import click

from grading_service import DEFAULT_PORT, GradingSettings, serve


@click.command("grading-service")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--latency-ms", default=20.0, show_default=True, type=click.FloatRange(min=0),
              help="Time each answer takes.")
@click.option("--jitter-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Up to this much more per request, drawn uniformly.")
@click.option("--access-log", is_flag=True, help="Log every request.")
def grading_service_command(host, port, latency_ms, jitter_ms, access_log):
    """Serve the grading API that /class_report calls (python -m grading_service does the same)."""
    try:
        serve(host, port, GradingSettings(latency_ms, jitter_ms, access_log), announce=click.echo)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
