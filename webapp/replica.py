"""Read replica routing: reads of safe requests on READ_REPLICA_URL, everything else on the primary.

Config (defaults in config/base.py): READ_REPLICA_URL (None: off, one engine as before;
``SQLALCHEMY_BINDS={"replica": url}`` is accepted too), READ_REPLICA_CONNECT_TIMEOUT_S,
READ_REPLICA_RETRY_S, READ_REPLICA_STICKY_S.

``RoutingSession.get_bind`` (the session class of ``db``) sends a statement to the replica
when it runs in a GET/HEAD/OPTIONS request, is not INSERT/UPDATE/DELETE, the session has
not flushed, and the client did not ask for the primary. Writes, CLI commands and
anything outside a request use the primary.

Read-your-writes: ``X-Read-From: primary`` forces the primary for one request; and after
every successful write (non-safe method, status < 400) the response sets the cookie
``read_primary_until``, which sends that client's reads to the primary for
READ_REPLICA_STICKY_S seconds, longer than the replica usually lags.

Replica down: its connect error (short connect timeout, pre-ping on checkout) sends the
read to the primary, and the replica is not tried again for READ_REPLICA_RETRY_S: one
warning per interval (and process) on ``webapp.replica``, one info line when it answers again.
A replica lost in the middle of a request answers that request 503 (Retry-After: 1).

Not a Flask-SQLAlchemy bind: it would register a "replica" metadata on ``db``, which
``create_all``/``drop_all`` then visit (connecting to the replica, and failing in any
app of the process that has no such bind). The engine is built here instead, with
Flask-SQLAlchemy's query recording attached, so the slow-query log, N+1 check and
toolbar see replica reads like any other (their EXPLAIN runs on the primary, which has
the same schema).
"""
import logging
import threading
import time

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy.sql.dml import UpdateBase
from werkzeug.exceptions import BadRequest, ServiceUnavailable

from config import ConfigError

logger = logging.getLogger("webapp.replica")
EXTENSION = "flask_perf_replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-Read-From"
COOKIE = "read_primary_until"


class ReplicaHealth:
    """Whether to try the replica now; remembers a failure for ``retry_s`` seconds."""

    def __init__(self, retry_s: float, clock=time.monotonic):
        self.retry_s, self.clock = retry_s, clock
        self._down_until: float | None = None
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return self._down_until is None or self.clock() >= self._down_until

    def failed(self, error: Exception) -> None:
        with self._lock:
            now = self.clock()
            if self._down_until is not None and now < self._down_until:
                return  # another thread already reported this interval
            self._down_until = now + self.retry_s
        logger.warning("read replica unreachable (%s); reads use the primary, next try in %gs",
                       getattr(error, "orig", error), self.retry_s)

    def succeeded(self) -> None:
        if self._down_until is None:
            return
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            logger.info("read replica answers again; reads use it")


class ReplicaRouter:
    def __init__(self, engine: sa.Engine, health: ReplicaHealth):
        self.engine, self.health = engine, health

    def engine_for(self, session: Session) -> sa.Engine | None:
        """The replica, connected in ``session``'s transaction, or None (use the primary)."""
        if not self.health.usable():
            return None
        try:
            session.connection(bind_arguments={"bind": self.engine})  # reused when already open
        except sa.exc.DBAPIError as error:
            self.health.failed(error)
            return None
        self.health.succeeded()
        g.flask_perf_on_replica = True
        return self.engine


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, with reads of safe requests sent to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and _reads_may_use_replica():
            if self._flushing or isinstance(clause, UpdateBase):
                g.flask_perf_wrote = True  # later reads of this request must see the write
            elif not g.get("flask_perf_wrote"):
                engine = current_app.extensions[EXTENSION].engine_for(self)
                if engine is not None:
                    return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _reads_may_use_replica() -> bool:
    return has_request_context() and g.get("flask_perf_replica_ok", False)


def _choose() -> None:
    """Before each request: may its reads go to the replica?"""
    asked = request.headers.get(HEADER, "").strip().lower()
    if asked not in ("", "primary", "replica"):
        raise BadRequest(f"{HEADER} must be 'primary' or 'replica'")
    try:
        sticky = float(request.cookies.get(COOKIE, 0)) > time.time()
    except ValueError:
        sticky = False  # a mangled cookie only costs its owner the replica
    g.flask_perf_replica_ok = (request.method in SAFE_METHODS and asked != "primary"
                               and not sticky)


def _stick_to_primary(response, sticky_s: float):
    """After a successful write: this client's next reads use the primary for a while."""
    if request.method not in SAFE_METHODS and response.status_code < 400 and sticky_s > 0:
        response.set_cookie(COOKIE, str(int(time.time() + sticky_s) + 1), max_age=int(sticky_s) + 1,
                            httponly=True, samesite="Lax")
    return response


def replica_url(app: Flask) -> str | None:
    """READ_REPLICA_URL, or SQLALCHEMY_BINDS["replica"] (taken out of the binds)."""
    url = app.config.get("READ_REPLICA_URL")
    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    if "replica" in binds:
        bound = binds.pop("replica")
        bound = bound.get("url") if isinstance(bound, dict) else bound
        if url and str(bound) != str(url):
            raise ConfigError("READ_REPLICA_URL and SQLALCHEMY_BINDS['replica'] differ; set one")
        url = bound
        app.config["SQLALCHEMY_BINDS"] = binds
    return str(url) if url else None


def make_engine(app: Flask, url: str) -> sa.Engine:
    options = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_pre_ping": True}
    parsed = sa.make_url(url)
    if parsed.drivername.startswith("mysql"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})  # as Flask-SQLAlchemy does
        options.setdefault("pool_recycle", 7200)
        options["connect_args"] = {**options.get("connect_args", {}),
                                   "connect_timeout": app.config["READ_REPLICA_CONNECT_TIMEOUT_S"]}
    return sa.create_engine(parsed, **options)


def engines(app: Flask) -> list[sa.Engine]:
    """The replica's engine, if any: flask_perf records its statements too."""
    router = app.extensions.get(EXTENSION)
    return [router.engine] if router is not None else []


def init_app(app: Flask) -> None:
    """Call before ``db.init_app`` (it takes the replica out of SQLALCHEMY_BINDS)."""
    url = replica_url(app)
    if not url:
        return
    health = ReplicaHealth(float(app.config["READ_REPLICA_RETRY_S"]))
    app.extensions[EXTENSION] = ReplicaRouter(make_engine(app, url), health)
    sticky_s = float(app.config["READ_REPLICA_STICKY_S"])
    app.before_request(_choose)
    app.after_request(lambda response: _stick_to_primary(response, sticky_s))
    app.register_error_handler(sa.exc.DBAPIError, _replica_lost)


def _replica_lost(error: sa.exc.DBAPIError):
    """The replica went away in the middle of a read: 503 (retry; reads now use the
    primary), not a 500. Any other database error is left to the usual 500."""
    if not (error.connection_invalidated and g.get("flask_perf_on_replica")):
        raise error
    current_app.extensions[EXTENSION].health.failed(error)
    response = current_app.make_response(current_app.handle_http_exception(ServiceUnavailable(
        "the read replica went away during this request; retry it (reads use the primary now)")))
    response.headers["Retry-After"] = "1"
    return response
