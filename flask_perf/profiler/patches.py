"""Everything flask_perf replaces in flask-profiler, checked against 1.8.1.

``MODULES`` is applied before ``flask_profiler.init_app`` (which wraps the app's
views with ``wrapHttpEndpoint`` and puts its views behind ``auth``), ``AFTER_INIT``
after it (``init_app`` sets ``collection`` and registers the views these rows
replace). Each row's guard is the flask-profiler code that must still look the name
up, so a release (or the flask-profilerforked fork) that renames it stops the app at
start (patching.py) instead of bringing back what the row fixes: headers stored in
plain text, the plain-text login, one store for every app, ``deleteDatabase``, the
GitHub iframe. Its ``app.config["flask_profiler"]`` dict is configuration, not a patch.
"""
from flask import current_app
from werkzeug.local import LocalProxy

from flask_perf import profiler
from flask_perf.patching import VIEWS, Patch
from flask_perf.profiler import assets, capture

UPSTREAM = ("flask-profiler", "1.8.1")
FP = "flask_profiler.flask_profiler"
BLUEPRINT = "flask-profiler"
# flask-profiler keeps one store per process: resolve it per app, so two apps keep their own.
PER_APP_STORE = LocalProxy(lambda: current_app.extensions["flask_perf"].profiler_store)


def _behind_login(view):
    def replacement(_current, _app):
        from flask_profiler import flask_profiler as fp

        return fp.auth.login_required(view)
    return replacement


MODULES = (
    Patch(FP, "wrapHttpEndpoint", capture.wrap_endpoint, UPSTREAM,
          guard=(f"{FP}.wrapAppEndpoints", "wrapHttpEndpoint")),
    # What ``@auth.verify_password`` sets: our hashed login instead of its plain-text one.
    Patch(f"{FP}.auth", "verify_password_callback", profiler._verify_password, UPSTREAM,
          guard=(f"{FP}.registerInternalRouters", "login_required")),
)

AFTER_INIT = (
    Patch(FP, "collection", PER_APP_STORE, UPSTREAM,
          guard=(f"{FP}.registerInternalRouters", "collection")),
    Patch(VIEWS, f"{BLUEPRINT}.index", _behind_login(profiler._index), UPSTREAM, wraps=True),
    Patch(VIEWS, f"{BLUEPRINT}.deleteDatabase", _behind_login(profiler._delete_disabled), UPSTREAM,
          wraps=True),
    Patch(VIEWS, f"{BLUEPRINT}.static", assets.serving_escaped_main_js, UPSTREAM,
          wraps=True),
)
