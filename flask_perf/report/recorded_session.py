"""One pytest session recorded by the plugin: its label, the environment it set for
the apps, the writers and stores those apps used, and the verdicts of its slow queries.

It keeps the apps' writer dicts and store URLs, never the apps (a suite builds
hundreds, each with its database connections). The EXPLAIN verdicts come from the
``flask_perf.slow_queries`` log records of this process: the ``slow_query`` table
keeps none, and a test's database is usually dropped before the session ends.
"""
import logging
import os

from flask_perf.report.run_summary import RunSummary, summarize
from flask_perf.sql.shapes import normalize
from flask_perf.state import watch_states
from flask_perf.stores import retention
from flask_perf.stores.engines import store_url


class RecordedSession:
    def __init__(self, label: str, fail_over: float | None = None, store_dir: str | None = None):
        self.label, self.fail_over, self.store_dir = label, fail_over, store_dir
        self.writers: list[dict] = []  # each app's PerfState.writers (filled as tools attach)
        self.dashboards: dict[str, None] = {}  # store URLs, in the order seen
        self.query_stores: dict[str, None] = {}
        self.verdicts: dict[str, str] = {}  # statement shape → plan text
        self.retention: list = []  # every store the apps used, pruned at the end (retention.py)
        self.summary: RunSummary | None = None
        self._saved_env: dict[str, str | None] = {}
        self._stop: list = []
        if store_dir:  # also what apps of other processes (live servers, workers) wrote there
            for urls, name in ((self.dashboards, "dashboard.db"), (self.query_stores, "slow_queries.db")):
                urls[f"sqlite:///{os.path.abspath(os.path.join(store_dir, name))}"] = None

    def set_env(self, name: str, value: str) -> None:
        """Set ``name`` for the session; ``stop()`` puts the old value back."""
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def start(self) -> None:
        self._stop.append(watch_states(self.watch))
        logger, handler = logging.getLogger("flask_perf.slow_queries"), _VerdictLog(self.verdicts)
        logger.addHandler(handler)
        self._stop.append(lambda: logger.removeHandler(handler))

    def watch(self, state) -> None:
        """A new app attached flask_perf: note its writers and stores."""
        self.writers.append(state.writers)
        self.retention += retention.targets(state.app)
        config = state.app.config
        if config.get("PERF_DASHBOARD_ENABLED"):
            self.dashboards[store_url(state.app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db")] = None
        if config.get("PERF_SLOW_QUERY_ENABLED"):
            self.query_stores[store_url(state.app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db")] = None

    def flush(self, timeout: float = 30) -> None:
        """Wait until every row the session's apps queued is stored."""
        for writers in self.writers:
            for writer in list(writers.values()):
                writer.flush(timeout)

    def finish(self) -> RunSummary:
        self.flush()
        try:
            self.summary = summarize(self.label, list(self.dashboards), list(self.query_stores),
                                     self.verdicts, self.fail_over)
        except Exception as exc:  # a broken store must not end the session with a traceback
            self.summary = RunSummary(self.label, [f"could not read the run's stores: "
                                                   f"{type(exc).__name__}: {exc}"], failed=True)
        retention.prune_quietly(self.retention)  # test runs never live an interval long
        return self.summary

    def stop(self) -> None:
        for stop in self._stop:
            stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _VerdictLog(logging.Handler):
    """Keeps the verdict the slow-query log prints with each slow statement."""

    def __init__(self, verdicts: dict):
        super().__init__(logging.WARNING)
        self.verdicts = verdicts

    def emit(self, record) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 5:  # see sql/slow_queries.py
            self.verdicts[normalize(str(record.args[2]))] = str(record.args[4])
