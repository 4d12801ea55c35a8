"""Monitoring levels that apply in every worker and leave the other tools attached.

FMD 5.1's ``set_rule`` unwraps the view through its ``.original`` attribute, which
``functools.wraps`` had also copied onto flask-profiler's wrapper outside it: a level
change (0, then back) silently dropped flask-profiler for that endpoint. And it
re-decorates only in the worker that served the change (under gunicorn -w 2, 11 of 20
requests afterwards followed the new level). Here:
- each measured endpoint's view becomes a *slot*: a stable function where FMD's
  wrapper was (the other tools wrap the slot, as before) that calls the endpoint's
  current FMD wrapper. A level change swaps that wrapper; the view chain, and every
  other tool's wrapper in it, stays as it is;
- the store is the truth: each worker compares its levels with the Endpoint table at
  most once per PERF_DASHBOARD_LEVEL_SYNC_S (default 1 s; a monotonic-clock check on
  the request path, one small query on a kept connection when due, never blocking
  another request) and
  re-decorates what changed, so a change made through any worker reaches all of
  them within about a second;
- ``set_rule`` is ours: the name must be a measured endpoint and the level 0-3 (400
  otherwise, where FMD answered 500), and it applies at once in the serving worker;
- a start resets every endpoint to PERF_DASHBOARD_LEVEL only when that setting changed
  since the last start (``profile_level_changed``): a worker booting late, or restarted,
  no longer undoes the levels set in the UI.
"""
import functools
import hashlib
import logging
import os
import threading
import time

from flask import current_app, jsonify, request
from sqlalchemy import select, update

from flask_perf import logins
from flask_perf.dashboard.decorate import fmd_wrapper
from flask_perf.stores.engines import store_engine
from flask_perf.stores.writer import Throttle

logger = logging.getLogger("flask_perf")


class Levels:
    """The slots of one app's measured endpoints and the levels they run at."""

    def __init__(self, app):
        self.app = app
        self.interval = float(app.config["PERF_DASHBOARD_LEVEL_SYNC_S"])
        self.wrappers: dict = {}  # endpoint name -> FMD's wrapper the slot calls
        self.bare: dict = {}  # endpoint name -> the view FMD wraps
        self.levels: dict[str, int] = {}  # endpoint name -> level applied in this process
        self.next_check = 0.0
        self.store_url = None  # this app's dashboard store (FMD's config names the last app bound)
        self._reader = (None, None)  # (pid, engine): a pooled reader, FMD's opens a connection per use
        self._sync_lock = threading.Lock()
        self._errors = Throttle()

    def adopt(self, name: str) -> None:
        """Turn FMD's freshly applied wrapper of ``name`` into a slot holding it."""
        wrapper = self.app.view_functions.get(name)
        bare = getattr(wrapper, "original", None)
        if bare is None or getattr(wrapper, "_flask_perf_level_slot", False):
            return
        self.wrappers[name], self.bare[name] = wrapper, bare
        wrappers, due = self.wrappers, self.sync_if_due

        @functools.wraps(bare)
        def level_slot(*args, **kwargs):
            due()
            return wrappers[name](*args, **kwargs)

        level_slot.original = bare  # FMD's level-3 profile reads the view's source through it
        level_slot._flask_perf_level_slot = True
        self.app.view_functions[name] = level_slot

    def sync_if_due(self) -> None:
        if time.monotonic() >= self.next_check and self._sync_lock.acquire(blocking=False):
            try:
                self.next_check = time.monotonic() + self.interval
                self.sync()
            except Exception as exc:  # a locked or missing store must not fail the request
                if self._errors.due():
                    logger.warning("could not read the dashboard's endpoint levels: %s", exc)
            finally:
                self._sync_lock.release()

    def sync(self) -> None:
        """Re-decorate every endpoint whose stored level differs from the one applied here."""
        from flask_monitoringdashboard.database import Endpoint

        pid, engine = self._reader
        if pid != os.getpid():  # not a connection of the parent's pool in a forked worker
            engine = store_engine(self.store_url, immediate=False)
            self._reader = (os.getpid(), engine)
        with engine.connect() as conn:
            stored = dict(conn.execute(select(Endpoint.name, Endpoint.monitor_level)).all())
        for name, level in stored.items():
            if name in self.wrappers and self.levels.get(name) != level:
                self.apply(name, level)

    def apply(self, name: str, level: int) -> None:
        """Run ``name`` at ``level`` in this process (the store already says so)."""
        from flask_monitoringdashboard.database import DBSession, Endpoint

        with DBSession() as session:
            endpoint = session.execute(select(Endpoint).where(Endpoint.name == name)).scalar_one()
            session.expunge(endpoint)
        endpoint.monitor_level = level
        self.wrappers[name], self.levels[name] = fmd_wrapper(self.app, endpoint, self.bare[name]), level


def set_rule():
    """FMD's set_rule without the unwrapping: ``name`` and ``value`` (0-3) from the form."""
    from flask_monitoringdashboard.database import DBSession, Endpoint

    levels: Levels = current_app.extensions["flask_perf"].levels
    name, value = request.form.get("name", ""), request.form.get("value", "")
    if name not in levels.wrappers:
        return jsonify(error="bad_request", message=f"unknown endpoint: {name[:100]!r}"), 400
    if value not in ("0", "1", "2", "3"):
        return jsonify(error="bad_request", message="value must be a level from 0 to 3"), 400
    with DBSession() as session, session.begin():
        session.execute(update(Endpoint).where(Endpoint.name == name).values(monitor_level=int(value)))
    levels.apply(name, int(value))
    return "OK"


def profile_level_changed(app) -> bool:
    """Whether the configured level (PERF_DASHBOARD_LEVEL) for this store differs from the one
    applied at the last start: only then does a start reset every endpoint to it. Otherwise
    each worker booting (or restarted by gunicorn) would undo the levels set in the UI."""
    import flask_monitoringdashboard as fmd

    key = "dashboard-level:" + hashlib.sha256(str(fmd.config.database_name).encode()).hexdigest()[:16]
    return logins.init_app(app).replace_setting(key, str(fmd.config.monitor_level))


def admin_set_rule(_fmd_set_rule):
    """The view replacing FMD's set_rule (a row of patches.py), admins only."""
    from flask_monitoringdashboard.core.auth import admin_secure

    return admin_secure(set_rule)


def init_app(app) -> Levels:
    """Slots for the endpoints FMD decorated at bind; later ones as they are registered."""
    from flask_monitoringdashboard.core.rules import get_rules
    from flask_monitoringdashboard.database import DBSession, Endpoint

    import flask_monitoringdashboard as fmd

    state = app.extensions["flask_perf"]
    levels = state.levels = Levels(app)
    levels.store_url = fmd.config.database_name
    for name in dict.fromkeys(rule.endpoint for rule in get_rules()):
        levels.adopt(name)
    with DBSession() as session:
        stored = dict(session.execute(select(Endpoint.name, Endpoint.monitor_level)).all())
    levels.levels = {name: stored[name] for name in levels.wrappers if name in stored}
    levels.next_check = time.monotonic() + levels.interval
    state.route_hooks.append(levels.adopt)  # after the dashboard's own hook decorated it
    return levels
