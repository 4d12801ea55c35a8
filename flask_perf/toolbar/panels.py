"""The toolbar's panels as this app shows them: redacted, with verdicts, and cheap.

- RedactedConfigPanel: the config panel without secrets or database passwords;
- VerdictSQLAlchemyPanel: the SQL panel with each SELECT's EXPLAIN verdict, its
  EXPLAIN/SELECT links signed by ``sign_query`` (they expire; upstream's never did);
- CachedVersionPanel: the versions panel, whose stock version reads every
  installed package's metadata on every request (a fifth of the toolbar's cost);
- TrimmedProfilerPanel: the profiler panel's table limited to the functions with
  the highest cumulative time (PERF_TOOLBAR_PROFILER_ROWS): rendering all ~800 rows
  on every page was a third of the toolbar's cost, and nobody reads past the top;
- cached_format_fname(): the profiler panel turns every profiled function's file
  into a path relative to sys.path, on every request (another third): memoised.
"""
import functools

from flask import current_app, g
from flask_debugtoolbar.panels.profiler import ProfilerDebugPanel
from flask_debugtoolbar.panels.config_vars import ConfigVarsDebugPanel
from flask_debugtoolbar.panels.sqlalchemy import SQLAlchemyDebugPanel
from flask_debugtoolbar.panels.versions import VersionDebugPanel
from flask_debugtoolbar.utils import format_fname, format_sql
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup, escape

from flask_perf.sql import explain as explainer
from flask_perf.sql.recording import LOCATIONS_FLAG, recorded_queries
from flask_perf.stores.engines import redacted_url

SENSITIVE = ("SECRET", "PASSWORD", "TOKEN", "CREDENTIAL")


def redact_config(config) -> dict:
    """Config for display: secrets hidden, passwords removed from database URLs."""
    shown = {}
    for key, value in config.items():
        if any(word in key.upper() for word in SENSITIVE) or key == "flask_profiler":
            shown[key] = "[redacted]"
        elif isinstance(value, str) and "://" in value and ("URI" in key or "URL" in key):
            shown[key] = redacted_url(value)
        else:
            shown[key] = value
    return shown


def query_serializer() -> URLSafeTimedSerializer:
    """Signs the SQL panel's EXPLAIN/SELECT links with a timestamp (upstream's never expire);
    the view loads them with max_age=PERF_TOOLBAR_SQL_LINK_MAX_AGE_S."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="flask-perf-sql-query")


def sign_query(statement: str, parameters, bind: str | None = None) -> str | None:
    """The link token of a statement that can be re-run (a single SELECT), else None."""
    try:
        explainer.check_select(statement)
        return query_serializer().dumps([statement, parameters] + ([bind] if bind else []))
    except (explainer.NotExplainable, TypeError):
        return None


def bind_key(engines, engine) -> str | None:
    """Flask-SQLAlchemy's bind key of ``engine``; None (the default bind) for an engine
    of its own, such as a read replica's."""
    return next((key for key, known in engines.items() if known is engine), None)


class RedactedConfigPanel(ConfigVarsDebugPanel):
    """The toolbar's config panel without SECRET_KEY, passwords or database passwords."""

    def content(self):
        context = self.context.copy()
        context["config"] = redact_config(current_app.config)
        return self.render("panels/config_vars.html", context)


class VerdictSQLAlchemyPanel(SQLAlchemyDebugPanel):
    """The SQL panel on flask_perf's recorder (sql/recording.py; it does not need
    SQLALCHEMY_RECORD_QUERIES), with each SELECT's EXPLAIN verdict and index hint."""

    def process_request(self, request) -> None:
        """The toolbar is shown for this request: the recorder notes each statement's line of
        app code (a stack walk per statement, which API clients never see, so never pay)."""
        super().process_request(request)
        setattr(g, LOCATIONS_FLAG, True)

    @property
    def has_content(self) -> bool:
        return True

    def nav_subtitle(self) -> str:
        count = len(recorded_queries())
        return f"{count} {'query' if count == 1 else 'queries'}"

    def content(self):
        queries = recorded_queries()
        if not queries:
            return self.render("panels/sqlalchemy.html", {"queries": []})
        engines = current_app.extensions["sqlalchemy"].engines
        data = []
        for query in queries:
            sql = format_sql(query.statement, query.parameters)
            bind = bind_key(engines, query.engine)
            signed = sign_query(query.statement, query.parameters, bind)
            if signed:
                verdict = explainer.cached_verdict(engines[bind], query.statement, query.parameters)
                css = "flask-perf-verdict" + (" full-scan" if verdict and verdict.full_scans else "")
                text = verdict.summary() if verdict else "not explainable"
                sql = sql + Markup(f'<div class="{css}" style="margin-top:4px;font-weight:bold;'
                                   f'color:{"#b00" if "full-scan" in css else "#070"}">'
                                   f"{escape(text)}</div>")
            data.append({"duration": query.duration, "sql": sql, "signed_query": signed,
                         "location_long": query.location, "location": format_fname(query.location)})
        return self.render("panels/sqlalchemy.html", {"queries": data})


class CachedVersionPanel(VersionDebugPanel):
    """The installed packages do not change while the process runs: render them once."""

    _content: str | None = None

    def content(self) -> str:
        if CachedVersionPanel._content is None:
            CachedVersionPanel._content = super().content()
        return CachedVersionPanel._content


class TrimmedProfilerPanel(ProfilerDebugPanel):
    """The profiler table cut to the top rows by cumulative time (own time ≤ cumulative
    time, so no function that matters is cut)."""

    def content(self) -> str:
        rows = int(current_app.config.get("PERF_TOOLBAR_PROFILER_ROWS", 150))
        if not self.is_active or len(self.function_calls) <= rows:
            return super().content()
        everything, self.function_calls = self.function_calls, self.function_calls[:rows]
        try:
            note = (f'<p class="flask-perf-profiler-note">Top {rows} of {len(everything)} functions '
                    f"by cumulative time (PERF_TOOLBAR_PROFILER_ROWS).</p>")
            return Markup(note) + Markup(super().content())
        finally:
            self.function_calls = everything


@functools.lru_cache(maxsize=8192)
def _function_name(value: str, root_path: str) -> str:
    return format_fname(value)


def cached_format_fname(value: str) -> str:
    """The profiler panel's ``format_fname``, memoised (keyed by the app's root too);
    patches.py puts it in place."""
    return _function_name(value, current_app.root_path)
