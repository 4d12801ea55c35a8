"""``PerfState``: everything flask_perf keeps for one app, at ``app.extensions["flask_perf"]``.

The attached tools (name → page URL), the store writers (one ``flush()`` for all),
the monitoring credentials, and the hooks that monitor routes registered after
``init_app`` (a blueprint registered late is wrapped like the others).
``watch_states()`` lets the pytest plugin see every PerfState a test session creates
(it keeps their writers and store URLs, not the apps, and stops watching at the end).
"""
from collections.abc import Callable

from flask import Flask

_watchers: list = []  # callables given each new PerfState; empty unless pytest --perf

# Blueprints of the tools themselves: never measured, never load-tested.
TOOL_BLUEPRINTS = ("dashboard", "flask-profiler", "debugtoolbar", "flask_perf")


def is_tool_endpoint(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.partition(".")[0] in TOOL_BLUEPRINTS or \
        endpoint.startswith("flask_perf")


def watch_states(watcher: Callable) -> Callable[[], None]:
    """Call ``watcher(state)`` with every PerfState created from now on (its config is
    complete, its tools not yet attached); returns the function that stops it."""
    _watchers.append(watcher)
    return lambda: _watchers.remove(watcher) if watcher in _watchers else None


class PerfState:
    def __init__(self, app: Flask, profile: str):
        self.app, self.profile = app, profile
        self.tools: dict[str, str | None] = {}
        self.writers: dict = {}
        self.backfills: dict = {}  # store name → the roll-up of its older rows (stores/backfill.py)
        self.records_queries = self.query_locations = False  # sql/recording.py reads these four
        self.collects_queries = False  # every statement of a request kept (toolbar, N+1 check)
        self.slow_query_s: float | None = None  # the slow-query log's threshold, if it is on
        self.slow_query_sink = None  # called with each slow statement of a request (slow_queries.py)
        self.route_hooks: list = []  # called with each endpoint registered after init_app
        self.extra_stores: list = []  # the app's own stores (status and retention read them)
        self.report_sections: list = []  # callables app -> list of lines for `flask perf report`
        self.loadtest_env_providers: list = []  # callables app -> dict, see add_loadtest_env
        self._credentials = None
        for watcher in list(_watchers):
            watcher(self)

    @property
    def credentials(self):
        """The monitoring login (created on first use: generated once if none is configured)."""
        if self._credentials is None:
            from flask_perf.credentials import load_credentials

            self._credentials = load_credentials(self.app)
        return self._credentials

    def sqlalchemy_engines(self) -> list:
        """Every engine (all binds) of the app's Flask-SQLAlchemy, if it has one."""
        ext = self.app.extensions.get("sqlalchemy")
        if ext is None:
            return []
        with self.app.app_context():
            return list(ext.engines.values())

    def primary_engine(self):
        """The default bind's engine, for EXPLAIN and the index commands."""
        ext = self.app.extensions.get("sqlalchemy")
        if ext is None:
            raise LookupError("this app has no Flask-SQLAlchemy: nothing to EXPLAIN")
        with self.app.app_context():
            return ext.engine

    def add_store(self, store) -> None:
        """Register one of the app's own stores (a ``flask_perf.stores.registry.Store``)."""
        self.extra_stores.append(store)

    def add_report_section(self, section) -> None:
        """``section(app) -> list[str]``: lines appended to ``flask perf report``."""
        self.report_sections.append(section)

    def add_loadtest_env(self, provider) -> None:
        """``provider(app) -> dict``: environment variables for the Locust process of
        ``flask perf loadtest`` (e.g. how many rows the app's locustfile may draw ids from);
        called in an app context, an exception stops the run with its message."""
        self.loadtest_env_providers.append(provider)

    def flush(self, timeout: float = 30) -> bool:
        """Wait until every row queued so far by this app's writers is stored."""
        return all(writer.flush(timeout) for writer in self.writers.values())

    def check_routes_later(self) -> None:
        """Routes added after init_app (a late blueprint) are wrapped by the tools too."""
        original = self.app.add_url_rule

        def add_url_rule(rule, endpoint=None, view_func=None, **options):
            original(rule, endpoint, view_func, **options)
            name = endpoint or (view_func.__name__ if view_func else None)
            if name and not is_tool_endpoint(name) and name in self.app.view_functions:
                for hook in self.route_hooks:
                    hook(name)

        self.app.add_url_rule = add_url_rule
