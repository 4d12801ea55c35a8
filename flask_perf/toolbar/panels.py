"""The toolbar's panels as this app shows them: redacted, with verdicts, and cheap.

- RedactedConfigPanel: the config panel without secrets or database passwords;
- VerdictSQLAlchemyPanel: the SQL panel with each SELECT's EXPLAIN verdict;
- CachedVersionPanel: the versions panel, whose stock version reads every
  installed package's metadata on every request (a fifth of the toolbar's cost);
- TrimmedProfilerPanel: the profiler panel's table limited to the functions with
  the highest cumulative time (PERF_TOOLBAR_PROFILER_ROWS): rendering all ~800 rows
  on every page was a third of the toolbar's cost, and nobody reads past the top;
- cache_function_names(): the profiler panel turns every profiled function's file
  into a path relative to sys.path, on every request (another third): memoised.
"""
import functools

from flask import current_app
from flask_debugtoolbar.panels import profiler as profiler_panel
from flask_debugtoolbar.panels.profiler import ProfilerDebugPanel
from flask_debugtoolbar.panels.config_vars import ConfigVarsDebugPanel
from flask_debugtoolbar.panels.sqlalchemy import SQLAlchemyDebugPanel, dump_query
from flask_debugtoolbar.panels.versions import VersionDebugPanel
from flask_debugtoolbar.utils import format_fname, format_sql
from markupsafe import Markup, escape

from flask_perf.sql import explain as explainer
from flask_perf.sql.recording import recorded_queries
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


class RedactedConfigPanel(ConfigVarsDebugPanel):
    """The toolbar's config panel without SECRET_KEY, passwords or database passwords."""

    def content(self):
        context = self.context.copy()
        context["config"] = redact_config(current_app.config)
        return self.render("panels/config_vars.html", context)


class VerdictSQLAlchemyPanel(SQLAlchemyDebugPanel):
    """The SQL panel on flask_perf's recorder (sql/recording.py; it does not need
    SQLALCHEMY_RECORD_QUERIES), with each SELECT's EXPLAIN verdict and index hint."""

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
        engine = current_app.extensions["sqlalchemy"].engine
        data = []
        for query in queries:
            sql = format_sql(query.statement, query.parameters)
            signed = dump_query(query.statement, query.parameters)
            if signed:
                verdict = explainer.cached_verdict(engine, query.statement, query.parameters)
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


def cache_function_names() -> None:
    """Memoise the profiler panel's file-name formatting (keyed by the app's root too)."""
    if getattr(profiler_panel.format_fname, "_flask_perf", False):
        return

    def cached(value: str) -> str:
        return _function_name(value, current_app.root_path)

    cached._flask_perf = True
    profiler_panel.format_fname = cached
