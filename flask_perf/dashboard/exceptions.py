"""Exception messages as Flask-MonitoringDashboard stores them: redacted and capped.

FMD keeps ``str(exc)`` of every exception a monitored view raised (or passed to
``flask_monitoringdashboard.capture``) in its ``ExceptionMessage`` table, whole. A message
often carries request text (``ValueError(f"bad value: {value}")``, ``KeyError(name)``),
so an attacker chose its size and content. ``add_exception_message`` (a row of
patches.py, replacing the name ``save_exception_occurence_to_db`` looks up) stores it with
the values of ``name=value`` / ``name: value`` pairs whose name is sensitive redacted
(redaction.py's words) and cut to PERF_MAX_FIELD_CHARS with the truncation marker
(limits.py). Equal stored messages share one row, as equal messages did.

Redaction is redaction.redact_text (linear in the message's length). The rest of an
exception record is not request text -- the type name and, per frame, the file path,
line numbers and the function's source read from its file -- and is left alone.
"""
from flask_perf.limits import Caps
from flask_perf.redaction import redact_text, sensitive_names


def stored_message(message, config) -> str:
    """``message`` as the dashboard keeps it: secrets redacted, at most PERF_MAX_FIELD_CHARS."""
    _, fields = sensitive_names(config)
    text = message if isinstance(message, str) else str(message)
    return Caps.of(config).text(redact_text(text, fields))


def add_exception_message(session, message) -> int:
    """FMD's ``add_exception_message`` with the message redacted and capped first."""
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.database import exception_message

    app = fmd.config.app  # FMD keeps one app per process (the last bound); None before bind
    return exception_message.add_exception_message(
        session, stored_message(message, app.config if app is not None else {}))
