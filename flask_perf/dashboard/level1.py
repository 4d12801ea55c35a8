"""Monitoring level 1 (production, testing) at the cost of a timer and a queue append.

FMD 5.1's ``add_wrapper1`` did, on every request: ``evaluate`` building an
``ExceptionCollector`` (which computes werkzeug's ``request.host_url``), ``get_ip``,
``get_group_by``, ``update_duration_cache`` under a process lock, and a thread (ours
before this: a dict row on a ``queue.Queue``) -- ~87 µs of a production worker's
~1,600 µs per request (issue 16). ``add_wrapper1`` (a row of patches.py) keeps what
FMD stores and moves the work off the request:

- request thread: ``time.time()`` before and after the view, the status
  (FMD's ``status_code_from_response``), ``REMOTE_ADDR`` and the raw ``X-Loadtest-Run``
  header, and one ``SimpleQueue`` put on the dashboard's BatchWriter;
- writer thread (``rows``): FMD's duration cache (once a batch: ``update_duration_cache``),
  the group (``limits.run_label``, as ``dashboard._load_test_run`` gives FMD),
  ``time_requested`` (the end of the view), and the ``Request`` row with the keys the
  rollups read (writer.py's ``on_batch``);
- a view that raised something other than an ``HTTPException``, or called
  ``flask_monitoringdashboard.capture``: FMD's ``ExceptionCollector`` is built then
  (on the request thread: it reads the request), and the writer thread stores the
  request and its exceptions through FMD's own ``add_request`` and ``save_to_db`` in
  one session. An ``abort(404)`` is a request with its status, as before issue 16.

Level 3 (sampling.py) sends the requests it does not profile through the same wrapper.
"""
import functools
import threading
from datetime import datetime, timezone
from time import time

from flask import g, request
from werkzeug.exceptions import HTTPException

from flask_perf.limits import run_label

RUN_ENVIRON = "HTTP_X_LOADTEST_RUN"  # the X-Loadtest-Run header (flask_perf.loadtest.RUN_HEADER)


def add_wrapper1(endpoint, fun):
    """FMD's ``add_wrapper1``: installs ``level1_wrapper`` where FMD's wrapper went."""
    import flask_monitoringdashboard as fmd

    wrapper = level1_wrapper(fmd.config.app, endpoint, fun)
    fmd.config.app.view_functions[endpoint.name] = wrapper


def level1_wrapper(app, endpoint, fun):
    """``fun`` timed, its request queued on ``app``'s dashboard writer."""
    from flask_monitoringdashboard.core.measurement import status_code_from_response

    put = app.extensions["flask_perf"].writers["dashboard"].put
    endpoint_id, name, version = endpoint.id, endpoint.name, app.config["PERF_VERSION"]

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        started = time()
        try:
            result = fun(*args, **kwargs)
        except BaseException as exc:
            ended = time()
            _put_raised(put, (endpoint_id, name, started, ended), version, exc)
            raise
        ended = time()
        collector = g.pop("e_collector", None)  # flask_monitoringdashboard.capture(e) in the view
        environ = request.environ
        put((endpoint_id, name, started, ended, status_code_from_response(result),
             environ.get("REMOTE_ADDR"), environ.get(RUN_ENVIRON), version, collector))
        return result

    wrapper.original = fun
    return wrapper


def _put_raised(put, timing: tuple, version: str, exc: BaseException) -> None:
    """A view that raised: an ``HTTPException`` is its status; any other error gets FMD's
    collector (500), stored with the request by the writer thread."""
    collector = g.pop("e_collector", None)
    if isinstance(exc, HTTPException):
        status = exc.code
    else:
        from flask_monitoringdashboard.core.exceptions.exception_collector import ExceptionCollector

        status, collector = 500, collector or ExceptionCollector()
        collector.set_uncaught_exc(exc)
    environ = request.environ
    put((*timing, status, environ.get("REMOTE_ADDR"), environ.get(RUN_ENVIRON), version, collector))


_batch = threading.local()  # per writer thread: endpoint name -> [requests, total ms] of its batch


def rows(item) -> list[dict]:
    """The writer thread's half (BatchWriter ``prepare``): the Request row of one request,
    or none when FMD's own code stored it with its exceptions. A dict is a row already."""
    if isinstance(item, dict):
        return [item]
    endpoint_id, name, started, ended, status, ip, run, version, collector = item
    duration = (ended - started) * 1000
    group = str(run_label(run))  # FMD's get_group_by of dashboard._load_test_run: "None" if no run
    durations = _batch.__dict__.setdefault("durations", {})
    pending = durations.get(name)
    if pending is None:
        durations[name] = [1, duration]
    else:
        pending[0] += 1
        pending[1] += duration
    if collector is not None and (collector.user_captured_exceptions or collector.uncaught_exception):
        _store_with_exceptions(endpoint_id, duration, ip, group, status, collector)
        return []
    return [{"endpoint_id": endpoint_id, "duration": duration, "ip": ip, "group_by": group,
             "status_code": status, "version_requested": version,
             "time_requested": datetime.fromtimestamp(ended, timezone.utc)}]


def update_duration_cache() -> None:
    """FMD's duration cache (each endpoint's average and hits, its last request), once per
    batch (BatchWriter ``after_prepare``): what ``update_duration_cache`` did per request,
    its running mean taken over the batch's total at once."""
    from flask_monitoringdashboard.core import cache

    pending = list(_batch.__dict__.pop("durations", {}).items())
    if not pending:
        return
    now = datetime.now(timezone.utc)
    with cache.mutex:
        for name, (count, total) in pending:
            info = cache.memory_cache.get(name)
            if info is None:  # an endpoint FMD's cache does not know: its requests are still stored
                continue
            info.last_requested = now
            info.average_duration = (info.average_duration * info.hits + total) / float(info.hits + count)
            info.hits += count


def _store_with_exceptions(endpoint_id, duration, ip, group, status, collector) -> None:
    """What FMD's PerformanceProfiler.run stores for a request with exceptions (its session
    scope: writer.safe_session_scope, which counts a failed write instead of losing it)."""
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.database.request import add_request

    from flask_perf.dashboard.writer import safe_session_scope

    with safe_session_scope() as session:
        request_id = add_request(session, duration=duration, endpoint_id=endpoint_id, ip=ip,
                                 group_by=group, status_code=status)
        collector.save_to_db(request_id, session, fmd.config)
