"""Every name flask_perf replaces in a tool, checked against the installed release.

Each tool's ``patches.py`` lists what it replaces; these tests run each row's check
against the installed packages, then take a patched name away (monkeypatch: the real
modules come back after each test) and expect ``check()`` to report it, ``apply()`` to
refuse with one clear line, and ``FlaskPerf.init_app`` to stop the app at start, also
outside testing mode, instead of silently running with the stock behaviour.
"""
import importlib

import pytest
from flask import Flask

from flask_perf import ConfigError, FlaskPerf
from flask_perf.patching import MARKER, ORIGINAL, VIEWS, Patch, apply, check, resolve

TABLES = {
    "Flask-MonitoringDashboard": ("flask_perf.dashboard.patches", ("MODULES", "ENDPOINTS")),
    "flask-profiler": ("flask_perf.profiler.patches", ("MODULES", "AFTER_INIT")),
    "flask-debugtoolbar": ("flask_perf.toolbar.patches", ("ROWS",)),
}
WRITTEN_FOR = {"Flask-MonitoringDashboard": "5.1.0", "flask-profiler": "1.8.1", "flask-debugtoolbar": "0.16.0"}


def make_perf_app(path, profile="development", testing=False) -> Flask:
    app = Flask("patched_app", instance_path=str(path))
    app.config.update(SECRET_KEY="patches-test-" + "k" * 32, TESTING=testing, PERF_STORE_DIR=str(path),
                      PERF_DASHBOARD_MANAGE_USER=False, PERF_MONITOR_PASSWORD="patches-test-password")
    app.add_url_rule("/", "home", lambda: "<html><body>home</body></html>")
    FlaskPerf().init_app(app, profile=profile)
    return app


@pytest.fixture(scope="module")
def perf_app(tmp_path_factory):
    """Every tool attached (development profile); also the first to import FMD's store module."""
    return make_perf_app(tmp_path_factory.mktemp("patched"), testing=True)


def table(package: str, name: str):
    module, _ = TABLES[package]
    return getattr(importlib.import_module(module), name)


def all_tables():
    return [(package, name) for package, (_, names) in TABLES.items() for name in names]


def module(path: str):
    return importlib.import_module(path)


@pytest.mark.parametrize("package, name", all_tables())
def test_every_row_matches_the_installed_release(perf_app, package, name):
    rows = table(package, name)
    assert rows and all(row.upstream == (package, WRITTEN_FOR[package]) for row in rows)
    assert check(rows, perf_app) == []
    for row in rows:
        if row.target != VIEWS and not row.wraps:  # in place since init_app
            assert getattr(resolve(row.target), row.attribute) is row.replacement, row.where


def test_every_module_and_class_row_is_guarded():
    for package, name in all_tables():
        for row in table(package, name):
            assert row.target == VIEWS or row.guard, f"{row.where} has no guard"


def test_a_second_app_wraps_nothing_twice(perf_app, tmp_path):
    stacks = module("flask_monitoringdashboard.core.profiler.stacktrace_profiler").StacktraceProfiler
    outliers = module("flask_monitoringdashboard.core.profiler.outlier_profiler").OutlierProfiler
    before = stacks._on_thread_stopped, outliers.__init__
    make_perf_app(tmp_path, testing=True)
    assert (stacks._on_thread_stopped, outliers.__init__) == before
    for wrapper in before:
        assert getattr(wrapper, MARKER) and not getattr(getattr(wrapper, ORIGINAL), MARKER, False)


def _message(package: str, problem: str) -> str:
    version = WRITTEN_FOR[package]
    return (f"flask_perf: {package} {version}: {problem}; this flask_perf was written for {version}: "
            f"pin {package}=={version} or upgrade flask_perf")


FMD = "flask_monitoringdashboard.core"


def _no_calls(*_args, **_kwargs):
    return None


def _level_1_only(endpoint):  # an add_decorator that no longer calls add_wrapper3
    return module(f"{FMD}.measurement").add_wrapper1(endpoint, None)


def _level_3_only(endpoint):  # ... nor add_wrapper1 (flask_perf's level 1 would not be used)
    return module(f"{FMD}.measurement").add_wrapper3(endpoint, None)


BREAKAGES = [  # (package, table, break it, problem reported)
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.delattr(module(f"{FMD}.measurement"), "add_wrapper3"),
     f"{FMD}.measurement.add_wrapper3 is gone"),
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.setattr(module(f"{FMD}.measurement"), "add_decorator", _level_1_only),
     f"{FMD}.measurement.add_wrapper3 is no longer used by {FMD}.measurement.add_decorator"),
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.delattr(module(f"{FMD}.measurement"), "add_wrapper1"),
     f"{FMD}.measurement.add_wrapper1 is gone"),
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.setattr(module(f"{FMD}.measurement"), "add_decorator", _level_3_only),
     f"{FMD}.measurement.add_wrapper1 is no longer used by {FMD}.measurement.add_decorator"),
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.setattr(module(f"{FMD}.telemetry"), "post_to_back_if_telemetry_enabled", _no_calls),
     f"{FMD}.telemetry.fetch_ip_from_github is no longer used by "
     f"{FMD}.telemetry.post_to_back_if_telemetry_enabled"),
    ("Flask-MonitoringDashboard", "MODULES",
     lambda mp: mp.delattr(module(f"{FMD}.profiler.performance_profiler"), "session_scope"),
     f"{FMD}.profiler.performance_profiler.session_scope is gone"),
    ("flask-profiler", "MODULES",
     lambda mp: mp.delattr(module("flask_profiler.flask_profiler"), "wrapHttpEndpoint"),
     "flask_profiler.flask_profiler.wrapHttpEndpoint is gone"),
    ("flask-profiler", "MODULES",
     lambda mp: mp.setattr(module("flask_profiler.flask_profiler"), "wrapAppEndpoints", _no_calls),
     "flask_profiler.flask_profiler.wrapHttpEndpoint is no longer used by "
     "flask_profiler.flask_profiler.wrapAppEndpoints"),
    ("flask-debugtoolbar", "ROWS",
     lambda mp: mp.delattr(module("flask_debugtoolbar.panels.profiler"), "format_fname"),
     "flask_debugtoolbar.panels.profiler.format_fname is gone"),
    ("flask-debugtoolbar", "ROWS",
     lambda mp: mp.setattr(module("flask_debugtoolbar.panels.profiler").ProfilerDebugPanel,
                           "process_response", _no_calls),
     "flask_debugtoolbar.panels.profiler.format_fname is no longer used by "
     "flask_debugtoolbar.panels.profiler.ProfilerDebugPanel.process_response"),
]
IDS = ["fmd-add_wrapper3-gone", "fmd-add_wrapper3-unused", "fmd-add_wrapper1-gone", "fmd-add_wrapper1-unused",
       "fmd-telemetry-unused", "fmd-session_scope-gone",
       "profiler-wrapHttpEndpoint-gone", "profiler-wrapHttpEndpoint-unused",
       "toolbar-format_fname-gone", "toolbar-format_fname-unused"]


@pytest.mark.parametrize("package, name, breaks, problem", BREAKAGES, ids=IDS)
def test_a_renamed_name_is_reported_and_nothing_is_replaced(perf_app, monkeypatch, package, name,
                                                            breaks, problem):
    rows = table(package, name)
    breaks(monkeypatch)
    assert check(rows, perf_app) == [_message(package, problem)]
    untouched = next(row for row in rows if not row.wraps and problem.split(" ")[0] != row.where)
    if untouched.target == VIEWS:
        monkeypatch.setitem(perf_app.view_functions, untouched.attribute, "stock")
        current = lambda: perf_app.view_functions[untouched.attribute]  # noqa: E731
    else:
        monkeypatch.setattr(resolve(untouched.target), untouched.attribute, "stock")
        current = lambda: getattr(resolve(untouched.target), untouched.attribute)  # noqa: E731
    with pytest.raises(ConfigError) as refused:
        apply(rows, perf_app)
    assert str(refused.value) == _message(package, problem)
    assert current() == "stock"  # every row is checked before any is applied


@pytest.mark.parametrize("package, name, breaks, problem", BREAKAGES, ids=IDS)
def test_the_app_does_not_start_without_a_patched_name(perf_app, monkeypatch, tmp_path, package, name,
                                                        breaks, problem):
    breaks(monkeypatch)
    with pytest.raises(ConfigError) as refused:  # not testing: other failures would only be logged
        make_perf_app(tmp_path, profile="development", testing=False)
    assert str(refused.value) == _message(package, problem)


def test_a_replaced_view_whose_endpoint_is_gone(perf_app, monkeypatch):
    rows = table("Flask-MonitoringDashboard", "ENDPOINTS")
    monkeypatch.delitem(perf_app.view_functions, "dashboard.prune_database_on_demand")
    problem = f'{VIEWS}["dashboard.prune_database_on_demand"] is gone'
    assert check(rows, perf_app) == [_message("Flask-MonitoringDashboard", problem)]
    with pytest.raises(ConfigError, match="prune_database_on_demand"):
        apply(rows, perf_app)


def test_a_target_module_that_is_gone():
    row = Patch("flask_profiler.no_such_module.Thing", "attr", None, ("flask-profiler", "1.8.1"))
    assert check([row]) == [_message("flask-profiler", "flask_profiler.no_such_module.Thing is gone")]


@pytest.mark.parametrize("module_path, attribute, changed", [
    ("flask_perf.dashboard.assets", "CDN_TO_VENDOR",
     {"https://cdn.example/angular-9.js": "vendor/angular-1.7.5.min.js"}),  # a template we no longer match
    ("flask_perf.profiler", "STAR_IFRAME", __import__("re").compile("no such iframe")),
])
def test_a_changed_upstream_page_stops_the_app_outside_testing(tmp_path, monkeypatch, module_path,
                                                              attribute, changed):
    """An upgrade that changes the text we rewrite must not leave the stock page (CDN scripts,
    the stock login, the GitHub iframe) in place: the app refuses to start, testing or not."""
    monkeypatch.setattr(importlib.import_module(module_path), attribute, changed)
    with pytest.raises(ConfigError, match="changed|no longer"):
        make_perf_app(tmp_path, testing=False)
