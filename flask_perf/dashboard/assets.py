"""Flask-MonitoringDashboard's pages, served without the internet.

Stock ``fmd_base.html`` loads AngularJS 1.7.5, angular-route 1.7.5, d3 4.12.0 and
sunburst-chart from public CDNs, so offline ``/dashboard`` shows an empty shell
after login; its bundle also asks pypi.org for the latest version. We serve the
template with pinned local copies (flask_perf/dashboard/static/vendor, from the npm registry)
and point the version check at this app. ``fmd_login.html`` gets our CSRF field.
Each replacement checks the upstream text it replaces, so an upgrade that changes
it fails at start instead of silently loading from a CDN again.
"""
import importlib.metadata
import pathlib

import flask_monitoringdashboard as fmd
from flask import Response, jsonify
from jinja2 import ChoiceLoader, DictLoader

from flask_perf.dashboard.login import login_template
from flask_perf.config import ConfigError

CDN_TO_VENDOR = {
    "https://cdnjs.cloudflare.com/ajax/libs/angular.js/1.7.5/angular.js": "vendor/angular-1.7.5.min.js",
    "https://ajax.googleapis.com/ajax/libs/angularjs/1.7.5/angular-route.js":
        "vendor/angular-route-1.7.5.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/4.12.0/d3.min.js": "vendor/d3-4.12.0.min.js",
    "https://unpkg.com/sunburst-chart": "vendor/sunburst-chart-1.21.4.min.js",
}
PYPI_URL = "https://pypi.org/pypi/Flask-MonitoringDashboard/json"
PACKAGE = pathlib.Path(fmd.__file__).parent


def offline_base_template() -> str:
    source = (PACKAGE / "templates" / "fmd_base.html").read_text()
    for cdn, local in CDN_TO_VENDOR.items():
        if cdn not in source:
            raise ConfigError(f"fmd_base.html no longer loads {cdn}: update CDN_TO_VENDOR")
        source = source.replace(cdn, "{{ url_for('flask_perf.static', filename='%s') }}" % local)
    return source


def offline_bundle() -> str:
    bundle = (PACKAGE / "static" / "js" / "app.js").read_text()
    if PYPI_URL not in bundle:
        raise ConfigError("FMD's app.js no longer calls pypi.org: update PYPI_URL")
    return bundle.replace(PYPI_URL, "api/package_version")


def serving_offline_bundle(static_view, _app):
    """FMD's static view, with its ``js/app.js`` asking this app for the version (patches.py)."""
    bundle = offline_bundle()

    def static(filename):
        if filename == "js/app.js":
            return Response(bundle, mimetype="text/javascript",
                            headers={"Cache-Control": "public, max-age=3600"})
        return static_view(filename)

    return static


def init_app(app, blueprint_name: str) -> None:
    from flask_monitoringdashboard.core.auth import secure

    templates = {"fmd_base.html": offline_base_template(),
                 "fmd_login.html": login_template((PACKAGE / "templates" / "fmd_login.html").read_text())}
    app.jinja_loader = ChoiceLoader([DictLoader(templates), app.jinja_loader])
    version = importlib.metadata.version("Flask-MonitoringDashboard")
    app.add_url_rule(f"/{fmd.config.link}/api/package_version", "flask_perf_fmd_version",
                     secure(lambda: jsonify(info={"version": version})))
