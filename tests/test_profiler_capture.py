"""flask-profiler's record, built in the writer thread from what the request thread kept.

``Captured.measurement`` reads the query string and the headers from the copied environ
(each distinct one worked out once); the record must be what werkzeug's ``Request``
over that environ gives, redacted and capped, whatever the request sent.
"""
import json

import pytest
from werkzeug.wrappers import Request

from flask_perf.limits import Caps
from flask_perf.profiler import capture
from flask_perf.redaction import redact_items, sensitive_names

CONFIG = {"PERF_VERSION": "v-test", "PERF_MAX_FIELD_CHARS": 40, "PERF_MAX_FIELDS": 6,
          "PERF_MAX_RECORD_CHARS": 2000, "PERF_SENSITIVE_HEADERS": ("X-Internal",)}
REQUESTS = [  # (query string, extra environ); WSGI strings: bytes decoded as latin-1
    ("class_id=7", {}),
    ("a+b=c%20d&;x=1&=empty&noval&%e2%82%ac=%zz", {}),
    ("", {"HTTP_ACCEPT": "application/json"}),
    ("a=1&a=2&b=&token=s3cret&next=https%3A%2F%2Fx.example%2F%3Fpassword%3Dp", {}),
    ("bad=%ff%fe&" + "ü=ö&".encode().decode("latin1") + "&".join(f"f{n}={n}" for n in range(20)), {}),
    ("long=" + "x" * 300, {"HTTP_USER_AGENT": "agent/" + "y" * 200}),
    ("q=1", {"HTTP_AUTHORIZATION": "Bearer bearer-sec-9", "HTTP_COOKIE": "session=cookie-sec-8", "HTTP_X_INTERNAL_ID": "42",
             "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "2", "HTTP_CONTENT_TYPE": "dup",
             "HTTP_REFERER": "https://app.example/page?api_key=k&x=1"}),
    ("q=" + "z" * 5000, {f"HTTP_X_H{n}": "v" * 100 for n in range(60)}),  # past the caches' size limit
]


def reference(captured) -> dict:
    """The record as werkzeug's Request over the environ gives it (the former measurement)."""
    policy, environ = captured.policy, captured.environ
    seen = Request(environ, populate_request=False)
    caps = policy.caps
    context = {
        "url": caps.text(seen.base_url), "args": caps.mapping(redact_items(seen.args.items(), policy.fields).items()),
        "form": captured.form or {}, "body": captured.body or "",
        "headers": caps.mapping(redact_items(seen.headers.items(), policy.headers).items()),
        "func": captured.endpoint, "ip": seen.remote_addr, "app_version": policy.version}
    if len(json.dumps(context, default=str)) > caps.record_chars:
        context = caps.record(context, ("headers", "args", "form", "body"))
    return {"name": captured.name, "args": caps.tree(list(captured.args)),
            "kwargs": caps.tree(redact_items(captured.kwargs.items(), policy.fields)), "method": seen.method,
            "startedAt": captured.started, "endedAt": captured.ended,
            "elapsed": round(captured.ended - captured.started, 6), "context": context,
            "context_json": json.dumps(context, default=str)}


@pytest.mark.parametrize("view_args", [((), {}), (("pos", 3), {"user_id": 5, "password": "pw-sec-7", "deep": {"k": [1]}})])
def test_records_are_what_werkzeug_reads_redacted_and_capped(view_args):
    policy = capture.Policy(CONFIG)
    assert policy.caps == Caps.of(CONFIG) and "x-internal" in sensitive_names(CONFIG)[0]
    args, kwargs = view_args
    for repeat in range(2):  # the second time from the caches
        for query, extra in REQUESTS:
            environ = {"REQUEST_METHOD": "get", "SCRIPT_NAME": "", "PATH_INFO": "/roster", "QUERY_STRING": query,
                       "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                       "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "10.0.0.9", **extra}
            captured = capture.Captured(policy, "/roster", args, kwargs, 100.0, 100.25, environ,
                                        "school.roster", None, None)
            record = captured.measurement()
            assert record == reference(captured)
            assert json.loads(record["context_json"]) == json.loads(json.dumps(record["context"], default=str))
            shown = record["context_json"]
            assert not any(secret in shown or secret in str(record)
                           for secret in ("s3cret", "bearer-sec-9", "cookie-sec-8", "pw-sec-7"))
