"""Flask-MonitoringDashboard's store: our engine under its session, each insert stamped.

FMD 5.1 creates its engine when ``flask_monitoringdashboard.database`` is first
imported, from the one global config, and never again. ``bound_engine`` (a row of
patches.py) replaces it with ours on the configured store (WAL, busy timeout, a
connection per use) and rebinds FMD's ``DBSession``, for each app whose store
differs. FMD also froze ``version_requested`` and the endpoint's monitor level as
column defaults at import: ``stamp_inserts`` sets both per insert from the current
config instead.
"""
import flask_monitoringdashboard as fmd
from sqlalchemy import event

from flask_perf.stores import indexes
from flask_perf.stores.engines import store_engine


def bound_engine(current, _app):
    """FMD's engine if it is already ours on ``fmd.config.database_name``; else ours on it."""
    from flask_monitoringdashboard.database import Base, DBSession

    url = fmd.config.database_name
    if str(current.url) == url and getattr(current, "_flask_perf", False):
        return current
    engine = store_engine(url, pooled=False, immediate=False)  # its pages read, then write
    engine._flask_perf = True
    Base.metadata.create_all(engine)
    indexes.ensure_indexes(engine, indexes.DASHBOARD)  # FMD's pages; old stores too
    current.dispose()
    DBSession.configure(bind=engine)
    return engine


def stamp_inserts() -> None:
    """New requests get this app's version, new endpoints its level (once per process)."""
    from flask_monitoringdashboard.database import Endpoint, Request

    if not event.contains(Request, "before_insert", _stamp_version):
        event.listen(Request, "before_insert", _stamp_version)
        event.listen(Endpoint, "before_insert", _stamp_level)


def _stamp_version(_mapper, _connection, target) -> None:
    target.version_requested = fmd.config.version


def _stamp_level(_mapper, _connection, target) -> None:
    """New endpoints get this app's level (FMD froze the first app's as the default)."""
    target.monitor_level = fmd.config.monitor_level
