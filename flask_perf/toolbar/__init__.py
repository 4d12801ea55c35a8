"""flask-debugtoolbar: SQL queries per page with working EXPLAIN / SELECT, profiler.

Reads the toolbar's own keys: PERF_TOOLBAR_ENABLED (never honoured in production),
DEBUG_TB_HOSTS (allow-list, default 127.0.0.1 and ::1; empty would show the
toolbar to everyone), DEBUG_TB_PROFILER_ENABLED, DEBUG_TB_INTERCEPT_REDIRECTS.

Works around, in flask-debugtoolbar 0.16:
- the SQL panel's EXPLAIN and SELECT views call the removed ``engine.execute``
  and answer 500 on SQLAlchemy 2 (pallets-eco/flask-debugtoolbar#232): our view
  runs the signed statement through a read-only connection with bound parameters;
- its views skipped DEBUG_TB_HOSTS (a signed link worked from any client) and its
  links never expired: every view of its blueprint is refused (403) to other
  clients and to cross-origin posts, and the SQL links expire after
  PERF_TOOLBAR_SQL_LINK_MAX_AGE_S (panels.py signs them);
- its config panel prints SECRET_KEY and database passwords: a redacted panel;
- its logging panel adds a root handler, hiding Flask's error log: ``app.logger``
  is created first;
- it injects itself into every HTML page, the dashboards' included: not there,
  and it runs its panels for every client: only for browsers (Accept: text/html);
- it cost ~29 ms per HTML page (30x the page itself): the versions panel reads
  every installed package's metadata and the profiler panel computes relative
  paths for every function, on every request; both cached (toolbar_panels.py).
Beyond upstream, the SQL panel shows each SELECT's EXPLAIN verdict and index hint.
What it replaces in the toolbar is listed in patches.py, checked at start.
"""
from flask import abort, current_app, g, request
from flask_debugtoolbar import DebugToolbarExtension
from flask_debugtoolbar.utils import format_sql
from itsdangerous import BadSignature, SignatureExpired
from markupsafe import escape

from flask_perf import origin
from flask_perf.patching import apply as apply_patches
from flask_perf.sql import explain as explainer
from flask_perf.state import TOOL_BLUEPRINTS

PANELS = (
    "flask_perf.toolbar.panels.CachedVersionPanel",
    "flask_debugtoolbar.panels.timer.TimerDebugPanel",
    "flask_debugtoolbar.panels.headers.HeaderDebugPanel",
    "flask_debugtoolbar.panels.request_vars.RequestVarsDebugPanel",
    "flask_perf.toolbar.panels.RedactedConfigPanel",
    "flask_debugtoolbar.panels.template.TemplateDebugPanel",
    "flask_perf.toolbar.panels.VerdictSQLAlchemyPanel",
    "flask_debugtoolbar.panels.logger.LoggingPanel",
    "flask_debugtoolbar.panels.route_list.RouteListDebugPanel",
    "flask_perf.toolbar.panels.TrimmedProfilerPanel",
    "flask_debugtoolbar.panels.g.GDebugPanel",
)




class AppPagesToolbar(DebugToolbarExtension):
    """The toolbar on the app's own pages, for browsers, not over the dashboards' pages.

    Only a request whose Accept header names text/html (a browser loading a page)
    gets the toolbar: curl, load generators and fetch() calls would pay for its
    panels (cProfile of the view, ~8 ms per page) and never see it. Such a request
    gets ``g.debug_toolbar`` (upstream sets it for every request) and no more: no
    host check, and no lookup of a toolbar it does not have before the view (upstream's
    raises and catches a KeyError there)."""

    def _show_toolbar(self) -> bool:
        return (_wants_html() and request.blueprint not in TOOL_BLUEPRINTS and super()._show_toolbar())

    def process_request(self) -> None:
        if _wants_html():
            return super().process_request()
        g.debug_toolbar = self
        return None

    def process_view(self, app, view_func, view_kwargs):
        if request._get_current_object() not in self.debug_toolbars_var.get({}):
            return view_func
        return super().process_view(app, view_func, view_kwargs)


def _wants_html() -> bool:
    return "text/html" in request.environ.get("HTTP_ACCEPT", "")


def _message(title: str, text: str, status: int):
    body = (f'<div class="flDebugPanelTitle"><a class="flDebugClose flDebugBack" href="">Back</a>'
            f"<h3>{escape(title)}</h3></div><div class=\"flDebugPanelContent\"><div "
            f'class="flDebugScroll"><p class="flask-perf-sql-error">{escape(text)}</p></div></div>')
    return body, status


def sql_select(explain: bool = False):
    """Replacement of the toolbar's SELECT/EXPLAIN view (one endpoint serves both)."""
    from flask_perf.toolbar.panels import query_serializer

    max_age = int(current_app.config["PERF_TOOLBAR_SQL_LINK_MAX_AGE_S"])
    try:
        statement, params, *bind = query_serializer().loads(request.args.get("query", ""), max_age=max_age)
        duration = float(request.args.get("duration", 0))
    except SignatureExpired:
        return _message("SQL Details", f"This query link expired (links last {max_age} s); "
                        "reload the page for a new one.", 400)
    except (BadSignature, TypeError, ValueError):
        return _message("SQL Details", "This query link is invalid or was not signed by this app.", 400)
    engine = current_app.extensions["sqlalchemy"].engines.get(bind[0] if bind else None)
    if engine is None:
        return _message("SQL Details", f"This app has no database bind {bind[0]!r} any more.", 400)
    try:
        run = explainer.explain if explain else explainer.select
        table = run(engine, statement, params)
    except explainer.NotExplainable as exc:
        return _message("SQL Details", str(exc), 400)
    except Exception as exc:  # a database error is shown, not turned into a 500
        return _message("SQL Details", f"The database refused the statement: {exc}", 400)
    return g.debug_toolbar.render("panels/sqlalchemy_select.html", {
        "result": table.rows, "headers": table.headers,
        "sql": format_sql(table.sql, table.parameters), "duration": duration})


def only_toolbar_hosts() -> None:
    """before_request of the toolbar's views: the clients that get the toolbar (DEBUG_TB_HOSTS)
    and no one else may use them; upstream checked the host only when injecting the toolbar."""
    hosts = current_app.config["DEBUG_TB_HOSTS"]
    if hosts and request.remote_addr not in hosts:
        abort(403, description="The debug toolbar is not available to this client (DEBUG_TB_HOSTS).")


def init_app(app) -> None:
    from flask_perf.toolbar import patches  # its rows name this module's replacements

    app.config["DEBUG_TB_ENABLED"] = True  # PERF_TOOLBAR_ENABLED decided; never in production
    app.config.setdefault("DEBUG_TB_HOSTS", ("127.0.0.1", "::1"))  # empty would show it to everyone
    app.config.setdefault("DEBUG_TB_INTERCEPT_REDIRECTS", False)
    app.config.setdefault("DEBUG_TB_PROFILER_ENABLED", True)
    app.config.setdefault("DEBUG_TB_PANELS", PANELS)
    app.logger  # noqa: B018 - create Flask's handler before the toolbar adds a root one
    toolbar = app.extensions["flask_perf"].toolbar = AppPagesToolbar()
    toolbar.init_app(app)
    apply_patches(patches.ROWS, app)
    funcs = app.before_request_funcs.setdefault("debugtoolbar", [])
    if only_toolbar_hosts not in funcs:
        funcs.append(only_toolbar_hosts)
    origin.protect(app, "debugtoolbar", require_header=False)  # no cookie authorises these views
    app.extensions["flask_perf"].tools["flask-debugtoolbar (on HTML pages)"] = None
