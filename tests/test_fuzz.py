"""Property-based fuzzing: no route answers 500, leaks a traceback or runs for seconds.

Covers the school routes (``/``, ``/roster``, ``/my_class``) with arbitrary query
strings, flask-profiler's JSON API under ``/flask-profile/api`` (HTTP basic auth) with
arbitrary criteria, and every GET route of Flask-MonitoringDashboard's JSON API that
takes path parameters (logged in), with arbitrary URL-quoted segments. Allowed
answers are 200, 400 and 404.

One ``testing``-profile app on SQLite serves the whole module, on a temp instance
folder with its own monitoring stores (nothing is added to the shared recording dir).
The testing profile propagates exceptions, so an unhandled error reaches the test
client as an exception instead of a 500 page: both count as a 500. FMD's
``session_scope`` swallows every exception (it prints "No commit has been made, due
to the following error: ...") and its view then returns None, which Flask turns into
a TypeError; failures quote that printed root cause.
"""
import contextlib
import io
import os
import re
import signal
import tempfile
import traceback
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from werkzeug.security import generate_password_hash

from tests.conftest import SMALL
from tests.support import flush_monitoring, wait_for_dashboard_threads
from webapp import create_app
from webapp.extensions import db
from webapp.seed import seed

PASSWORD = "fuzz-pass-123"
AUTH = ("admin", PASSWORD)
OK = {200, 400, 404}
SLOW_S = 3  # a request slower than this fails (ordinary ones take milliseconds)
TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]*", line ')

# Hypothesis caches constants of local modules under .hypothesis/ in the working
# directory, already while collecting: keep that out of the tree (unless told where).
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "flask-perf-hypothesis"))

# No explain phase: it reruns failing cases under a tracer, which costs more than it tells.
FUZZ = settings(max_examples=60, deadline=None, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    """The testing-profile app on a seeded SQLite database, monitoring into a temp dir."""
    base = tmp_path_factory.mktemp("fuzz")
    app = create_app("testing", {
        "INSTANCE_PATH": str(base / "instance"),
        "PERF_STORE_DIR": str(base / "monitoring"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{base / 'school.db'}",
        "PERF_MONITOR_PASSWORD": PASSWORD,
        "PERF_VERSION": "fuzz",
    })
    # PERF_MONITOR_PASSWORD was hashed with scrypt at start, and basic auth checks it on every
    # request (~0.4 s here): swap in a cheap hash of the same password so the fuzzing
    # fits its time budget. The login code path is unchanged.
    creds = app.extensions["flask_perf"].credentials
    assert creds.check("admin", PASSWORD)
    creds.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    with app.app_context():
        seed(SMALL, reset=True)
    # Some traffic, so that both monitoring stores hold rows to query.
    warm = app.test_client()
    for class_id in (1, 2, 3, 999):
        warm.get(f"/roster?class_id={class_id}")
    for student_id in (1, 5, 9999):
        warm.get(f"/my_class?student_id={student_id}")
    flush_monitoring(app)
    yield app
    _drain(app)
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _drain(app) -> None:
    """Let the monitoring threads finish before the temp stores go away."""
    wait_for_dashboard_threads()
    app.extensions["flask_perf"].flush()


@pytest.fixture(scope="module")
def client(fuzz_app):
    return fuzz_app.test_client()


@pytest.fixture(scope="module")
def dashboard_client(fuzz_app):
    """A test client logged in to Flask-MonitoringDashboard as the monitor admin."""
    client = fuzz_app.test_client()
    form = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    login = client.post("/dashboard/login",
                        data={"name": "admin", "password": PASSWORD, "csrf_token": token})
    assert login.status_code == 302, login.get_data(as_text=True)[:500]
    check = client.get("/dashboard/api/endpoints")
    assert check.status_code == 200 and check.is_json, "dashboard login did not stick"
    return client


# --------------------------------------------------------------------------- helpers

class SlowRequest(BaseException):
    """Raised by SIGALRM in a request running too long (a BaseException: FMD's
    ``session_scope`` swallows every Exception)."""


def _alarm(_signum, _frame):
    raise SlowRequest


def fetch(client, url, allowed=OK, **kwargs):
    """GET ``url``; fail on an unexpected status, a raised exception, a traceback in the
    body, or a request still running after SLOW_S seconds."""
    where = f"GET {url!r}" + (f" query_string={kwargs['query_string']!r}"
                              if "query_string" in kwargs else "")
    printed = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    # Repeats every 0.5 s in case one alarm lands where the exception is ignored.
    signal.setitimer(signal.ITIMER_REAL, SLOW_S, 0.5)
    try:
        try:
            with contextlib.redirect_stdout(printed):
                response = client.get(url, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except SlowRequest:
        raise AssertionError(f"{where} still running after {SLOW_S} s (stopped)") from None
    except Exception as exc:  # propagated by the testing profile: a 500 for a real client
        # FMD stores the exception from a thread; Python 3.11's traceback formatting calls
        # ast.parse, whose recursion counter is shared between threads: let it finish first.
        wait_for_dashboard_threads()
        trace = "".join(traceback.format_exception(exc))
        raise AssertionError(f"{where} raised (a 500 in production):\n{trace}"
                             f"{_printed(printed)}") from exc
    finally:
        signal.signal(signal.SIGALRM, previous)
    body = response.get_data(as_text=True)
    assert response.status_code in allowed, (
        f"{where} answered {response.status_code}, expected one of {sorted(allowed)}:\n"
        f"{body[:2000]}{_printed(printed)}")
    assert not TRACEBACK.search(body), f"{where} leaked a traceback:\n{body[:4000]}"
    return response


def _printed(buffer: io.StringIO) -> str:
    text = buffer.getvalue().strip()
    return f"\nprinted during the request (FMD's swallowed error):\n{text[:2000]}" if text else ""


# --------------------------------------------------------------------------- strategies

ID_KEYS = ("class_id", "student_id")
PROFILER_KEYS = ("startedAt", "endedAt", "elapsed", "sort", "skip", "limit", "method",
                 "name", "interval")
ODD_KEYS = ("", " ", "class_id[]", "CLASS_ID", "class_id ", "student_id\x00", "__proto__",
            "é", "日本", "a.b", "[", "%")
BIG = ("2147483647", "2147483648", "4294967296", "9223372036854775807",
       "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
       "18446744073709551616", "9" * 30)

odd_numbers = st.sampled_from([
    "", " ", "0", "-0", "-1", "+1", " 1", "1 ", "01", "0001", "1e3", "1.0", "1.5", "0x10",
    "1_0", "١", "٣", "１２", "²", "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "-1e309",
    *BIG, "9" * 4301, "1" * 5000, "null", "true", "[]", "{}", "\x00", "1\x00", "'", '"',
    "1;DROP TABLE students", "1 OR 1=1",
])
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=1, max_value=70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.from_regex(r"[+-]?[0-9]{1,40}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
)
values = st.one_of(odd_numbers, numbers, st.text(max_size=30))
any_key = st.one_of(st.sampled_from(ODD_KEYS), st.text(max_size=10))


def query_strings(keys):
    """Query strings as a client could send them: encoded pairs or raw percent junk."""
    key = st.one_of(st.sampled_from(keys), any_key)
    pairs = st.lists(st.tuples(key, values), max_size=6)
    encoded = st.one_of(
        pairs.map(urlencode),
        pairs.map(lambda p: urlencode(p, quote_via=quote)),
        pairs.map(lambda p: "&".join(f"{k}={v}" for k, v in p)),  # not encoded at all
        pairs.map(lambda p: "&".join(quote(k) for k, _ in p)),  # keys without "="
    )
    junk = st.lists(st.one_of(
        st.sampled_from(["%", "%z", "%zz", "%g0", "%ff", "%fe%ff", "%c3", "%c3%28", "%e2%82",
                         "%00", "%25", "%2525", "%u0041", "&", "&&", "=", "==", "+", ";", "#",
                         "?", *(k + "=" for k in keys)]),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=6),
        st.text(max_size=4),
    ), max_size=12).map("".join)
    return st.one_of(encoded, junk)


def segment(text: str) -> str:
    """``text`` as one URL path segment."""
    return quote(text, safe="")


segments = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    odd_numbers.filter(bool),
    st.text(min_size=1, max_size=30),
)
int_segments = st.one_of(  # what werkzeug's int converter lets through, and some it refuses
    st.integers(min_value=0, max_value=40).map(str),
    st.sampled_from([b for b in BIG if not b.startswith("-")] + ["0" * 50 + "1"]),
    st.integers(min_value=2**62, max_value=2**80).map(str),
    st.integers(min_value=0, max_value=2**80).map(str),
    st.text(min_size=1, max_size=12),
)


# --------------------------------------------------------------------------- flask-profiler

PROFILER_API = "/flask-profile/api/measurements/"
PROFILER_LISTS = [PROFILER_API, PROFILER_API + "grouped", PROFILER_API + "timeseries/",
                  PROFILER_API + "methodDistribution/"]
INJECTIONS = ['x" OR 1=1 OR "', "x' OR 1=1 OR '", 'x" OR ""="', "' OR '1'='1' --",
              "/roster' OR name LIKE '%", '") OR 1=1 --', "%", "*"]
sort_values = st.one_of(
    st.tuples(st.sampled_from(["startedAt", "endedAt", "elapsed", "method", "name", "id",
                               "count", "minElapsed", "maxElapsed", "avgElapsed", "",
                               "started_at", "1", "name;--"]),
              st.sampled_from(["", ",asc", ",desc", ",ASC", ",sideways", ",", ",asc,desc"]))
    .map("".join),
    st.text(max_size=20),
)
profiler_values = st.one_of(values, sort_values, st.sampled_from(
    ["daily", "hourly", "GET", "POST", "get", "/roster", "/my_class", *INJECTIONS, "_"]))
# Each known key present or not, plus random (possibly repeated) extra pairs.
profiler_queries = st.tuples(
    st.fixed_dictionaries({}, optional={key: profiler_values for key in PROFILER_KEYS}),
    st.lists(st.tuples(st.one_of(st.sampled_from(PROFILER_KEYS), any_key), profiler_values),
             max_size=4),
).map(lambda parts: [*parts[0].items(), *parts[1]])


# The first test of the module: flush_monitoring() asserts that no dashboard write was
# dropped, which 500s found by the fuzzers could cause.
def test_profiler_filters_are_not_injectable(fuzz_app, client):
    for _ in range(3):
        client.get("/roster?class_id=1")
    flush_monitoring(fuzz_app)
    everything = fetch(client, PROFILER_API, query_string="limit=1000", auth=AUTH).json
    assert everything["measurements"], "the warm-up requests were not measured"
    roster = fetch(client, PROFILER_API, query_string={"name": "/roster"}, auth=AUTH).json
    assert roster["measurements"] and all(m["name"] == "/roster" for m in roster["measurements"])
    for injection in INJECTIONS:
        for key in ("name", "method"):
            args = {key: injection}
            rows = fetch(client, PROFILER_API, query_string=args, auth=AUTH).json
            assert rows["measurements"] == [], f"{key}={injection!r} matched rows"
            grouped = fetch(client, PROFILER_API + "grouped", query_string=args, auth=AUTH).json
            assert grouped["measurements"] == [], f"{key}={injection!r} matched groups"
            dist = fetch(client, PROFILER_API + "methodDistribution/", query_string=args,
                         auth=AUTH).json
            assert dist["distribution"] == {}, f"{key}={injection!r} matched methods"
            series = fetch(client, PROFILER_API + "timeseries/", query_string=args,
                           auth=AUTH).json
            assert series["series"] == {}, f"{key}={injection!r} matched a time series"
        for sort in (injection, "name" + injection, "elapsed," + injection):
            fetch(client, PROFILER_API, query_string={"sort": sort}, auth=AUTH, allowed={400})


@FUZZ
@given(pairs=profiler_queries)
@example(pairs=[("skip", "0"), ("limit", "5"), ("sort", "elapsed,asc")])
@example(pairs=[("skip", "9223372036854775808")])
@example(pairs=[("limit", "9223372036854775808"), ("skip", "-9223372036854775809")])
@example(pairs=[("startedAt", "nan"), ("endedAt", "1e309"), ("elapsed", "-inf")])
@pytest.mark.parametrize("url", PROFILER_LISTS)
def test_profiler_api_never_fails(client, url, pairs):
    fetch(client, url, query_string=urlencode(pairs), auth=AUTH)


@FUZZ
@given(qs=query_strings(PROFILER_KEYS))
@pytest.mark.parametrize("url", PROFILER_LISTS)
def test_profiler_api_survives_raw_query_strings(client, url, qs):
    fetch(client, url, query_string=qs, auth=AUTH)


@FUZZ
@given(ident=st.one_of(int_segments, segments, st.text(max_size=40)))
@example(ident="1")
@example(ident="abc")
@example(ident="1" * 5000)
@example(ident="9223372036854775808")
@example(ident="-9223372036854775809")
def test_profiler_measurement_by_id_never_fails(client, ident):
    fetch(client, PROFILER_API + segment(ident), auth=AUTH)


def test_profiler_api_requires_login(client):
    for url in PROFILER_LISTS + [PROFILER_API + "1"]:
        assert client.get(url).status_code == 401
        assert client.get(url, auth=("admin", "wrong")).status_code == 401


# --------------------------------------------------------------------------- school routes

@FUZZ
@given(qs=query_strings(ID_KEYS))
@example(qs="class_id=1")
@example(qs="class_id=1&class_id=2")
@example(qs="class_id=" + "9" * 5000)
@example(qs="class_id=%ff")
@example(qs="student_id=5&student_id=")
@pytest.mark.parametrize("path", ["/", "/roster", "/my_class"])
def test_school_routes_never_fail(client, path, qs):
    response = fetch(client, path, query_string=qs)
    if path == "/":
        assert response.status_code == 200
    elif path == "/roster" and response.status_code != 200:
        assert response.is_json, "errors of /roster are JSON"


def test_school_routes_answer_valid_ids(client):
    assert fetch(client, "/roster", query_string="class_id=1").json["class_id"] == 1
    assert fetch(client, "/my_class", query_string="student_id=1").status_code == 200
    assert fetch(client, "/roster", query_string="class_id=2147483648").status_code == 400
    assert fetch(client, "/my_class", query_string="student_id=2147483647").status_code == 404


# --------------------------------------------------------------------------- dashboard

# Every GET route of FMD's JSON API with path parameters (checked against url_map below).
DASHBOARD_ROUTES = [
    "/dashboard/api/custom_graph/<graph_id>/<start_date>/<end_date>",
    "/dashboard/api/detailed_exception_occurrence/<int:endpoint_id>/<int:offset>/<int:per_page>",
    "/dashboard/api/endpoint_info/<int:endpoint_id>",
    "/dashboard/api/endpoint_status_code_distribution/<int:endpoint_id>",
    "/dashboard/api/endpoint_status_code_summary/<int:endpoint_id>",
    "/dashboard/api/exception_occurrence/<int:offset>/<int:per_page>",
    "/dashboard/api/exception_occurrence_page_number/<int:endpoint_id>"
    "/<int:stack_trace_snapshot_id>/<int:per_page>",
    "/dashboard/api/function_code/<int:function_definition_id>",
    "/dashboard/api/grouped_profiler/<int:endpoint_id>",
    "/dashboard/api/hourly_load/<start_date>/<end_date>",
    "/dashboard/api/hourly_load/<start_date>/<end_date>/<int:endpoint_id>",
    "/dashboard/api/ip/<int:endpoint_id>",
    "/dashboard/api/num_exceptions/<int:endpoint_id>",
    "/dashboard/api/num_outliers/<int:endpoint_id>",
    "/dashboard/api/num_profiled/<int:endpoint_id>",
    "/dashboard/api/outlier_graph/<int:endpoint_id>",
    "/dashboard/api/outlier_table/<int:endpoint_id>/<offset>/<per_page>",
    "/dashboard/api/profiler_table/<int:endpoint_id>/<offset>/<per_page>",
    "/dashboard/api/requests/<start_date>/<end_date>",
    "/dashboard/api/users/<int:endpoint_id>",
    "/dashboard/api/versions/<int:endpoint_id>",
]
# These do work per day of the range: a wide range runs for minutes.
DATE_RANGE_ROUTES = [rule for rule in DASHBOARD_ROUTES
                     if rule.startswith(("/dashboard/api/requests/", "/dashboard/api/hourly_load/"))]
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
# FMD's grouped_profiler query warns (SQLAlchemy deprecation); under filterwarnings=error
# the warning would be raised inside FMD's session_scope and become a 500 that
# production never sees.
FMD_WARNING = "ignore:Column-expression-level unary distinct:sqlalchemy.exc.SAWarning"


def short(rule: str) -> str:
    return rule.removeprefix("/dashboard/api/")


def test_dashboard_route_list_is_complete(fuzz_app):
    found = {rule.rule for rule in fuzz_app.url_map.iter_rules()
             if rule.rule.startswith("/dashboard/api/") and rule.arguments
             and "GET" in rule.methods}
    assert found == set(DASHBOARD_ROUTES)


def dashboard_urls(rule: str):
    """URLs for ``rule`` with every parameter replaced by fuzzed, URL-quoted text."""
    parts = PARAM.split(rule)  # literal, converter, name, literal, ...
    pieces = []
    for index in range(0, len(parts), 3):
        pieces.append(st.just(parts[index]))
        if index + 1 < len(parts):
            strategy = int_segments if parts[index + 1] == "int" else segments
            pieces.append(strategy.map(segment))
    return st.tuples(*pieces).map("".join)


@pytest.mark.filterwarnings(FMD_WARNING)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
@pytest.mark.parametrize("rule", [r for r in DASHBOARD_ROUTES if r not in DATE_RANGE_ROUTES],
                         ids=short)
def test_dashboard_api_never_fails(dashboard_client, rule, data):
    fetch(dashboard_client, data.draw(dashboard_urls(rule), label="url"))


# No shrinking: a failing wide date range would be rerun for seconds at each step (and
# time-outs near SLOW_S are flaky).
@pytest.mark.filterwarnings(FMD_WARNING)
@settings(FUZZ, max_examples=40, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
@pytest.mark.parametrize("rule", DATE_RANGE_ROUTES, ids=short)
def test_dashboard_date_range_api_never_fails(dashboard_client, rule, data):
    fetch(dashboard_client, data.draw(dashboard_urls(rule), label="url"))


# Minimal inputs found by the fuzzers above, kept as fixed cases. FMD's views convert
# and query path parameters unchecked (strptime, int(), SQLite's 64-bit INTEGER,
# ``.one()`` on a missing row, a numpy array sized by the date range).
DASHBOARD_CASES = [
    "custom_graph/1/x/2024-01-02",  # ValueError from strptime
    "detailed_exception_occurrence/1/0/9223372036854775808",  # OverflowError in SQLite
    "endpoint_info/0",  # NoResultFound (no such endpoint)
    "endpoint_info/9223372036854775808",
    "endpoint_status_code_distribution/9223372036854775808",
    "endpoint_status_code_summary/9223372036854775808",
    "exception_occurrence/0/9223372036854775808",
    "exception_occurrence_page_number/1/1/10",  # int(None) when the snapshot is unknown
    "function_code/9223372036854775808",
    "grouped_profiler/9223372036854775808",
    "hourly_load/x/2024-01-07",
    "hourly_load/2024-01-07/2024-01-01",  # end before start: numpy "negative dimensions"
    "hourly_load/2024-01-01/2024-01-07/9223372036854775808",
    "ip/9223372036854775808",
    "num_exceptions/9223372036854775808",
    "num_outliers/9223372036854775808",
    "num_profiled/9223372036854775808",
    "outlier_graph/9223372036854775808",
    "outlier_table/1/x/10",  # int('x')
    "outlier_table/1/0/9223372036854775808",
    "profiler_table/1/0/%20",  # int(' ')
    "profiler_table/1/0/9223372036854775808",
    "requests/x/2024-01-07",
    "requests/1990-01-01/2024-01-01",  # one SQL query per day: runs for seconds
    "users/9223372036854775808",
    "versions/9223372036854775808",
]


@pytest.mark.filterwarnings(FMD_WARNING)
@pytest.mark.parametrize("path", DASHBOARD_CASES)
def test_dashboard_api_known_inputs(dashboard_client, path):
    fetch(dashboard_client, "/dashboard/api/" + path)
