"""Everything flask_perf replaces in Flask-MonitoringDashboard, checked against 5.1.0.

``MODULES`` is applied before ``fmd.bind`` (FMD's state is per process; a second
app re-applies it without wrapping twice), ``ENDPOINTS`` after it, on the app's own
views by endpoint name. Each row's guard is the FMD code that must still look the
name up, so a release that renames it stops the app at start (patching.py) instead
of bringing back what the row fixes: its store engine, rows lost by its
``session_scope``, a thread and ~87 µs per level-1 request, unbounded level-3 stacks,
secrets in outlier records, uncapped exception messages, telemetry to GitHub,
admin/admin, anonymous pruning, pages
that read every request (``ROLLUP_READS``: their data from the rollups instead). FMD's settings
(``fmd.config``: database_name, version, monitor_level, group_by ...) are its
configuration, set in __init__.py, not patches.
"""
from flask_perf import dashboard
from flask_perf.dashboard import (assets, level1, levels, load, login, occurrences, overview,
                                  profiler_reads, sampling, statuses, store, versions, writer)
from flask_perf.dashboard import exceptions as dashboard_exceptions
from flask_perf.patching import VIEWS, Patch, once

UPSTREAM = ("Flask-MonitoringDashboard", "5.1.0")
FMD = "flask_monitoringdashboard"
CORE, PROFILERS = f"{FMD}.core", f"{FMD}.core.profiler"
STACKS = f"{PROFILERS}.stacktrace_profiler.StacktraceProfiler"
OUTLIERS = f"{PROFILERS}.outlier_profiler.OutlierProfiler"
BLUEPRINT = "dashboard"  # FMD's blueprint_name; flask_perf never changes it


def _no_outbound_call(*_args, **_kwargs):
    return None  # telemetry never leaves the machine


def _admin_only(view):
    from flask_monitoringdashboard.core.auth import admin_secure

    return admin_secure(view)


def _session_scope(module: str, caller: str) -> Patch:
    return Patch(module, "session_scope", writer.safe_session_scope, UPSTREAM,
                 guard=(caller, "session_scope"))




def _read(module: str, name: str, replacement, view: str) -> Patch:
    """A page's data function, replaced in the views module that looks it up."""
    return Patch(f"{FMD}.views.{module}", name, replacement, UPSTREAM,
                 guard=(f"{FMD}.views.{module}.{view}", name))


# The heavy pages' data from the rollups (overview.py, versions.py, load.py).
ROLLUP_READS = (
    _read("endpoint", "get_endpoint_overview", overview.get_endpoint_overview, "get_overview"),
    _read("endpoint", "get_api_performance", overview.get_api_performance, "api_performance"),
    _read("endpoint", "get_endpoints_hits", overview.get_endpoints_hits, "endpoints_hits"),
    _read("endpoint", "get_endpoint_versions", versions.get_endpoint_versions, "endpoint_versions"),
    _read("endpoint", "get_endpoint_users", versions.get_endpoint_users, "endpoint_users"),
    _read("endpoint", "get_users", versions.get_users, "users"),
    _read("version", "get_versions", versions.get_versions, "versions"),  # newest shown by default
    _read("version", "get_multi_version_data", versions.get_multi_version_data, "multi_version"),
    _read("version", "get_version_user_data", versions.get_version_user_data, "version_user"),
    _read("version", "get_version_ip_data", versions.get_version_ip_data, "version_ip"),
    _read("endpoint", "get_ips", versions.get_ips, "ips"),
    _read("endpoint", "get_status_code_distribution", statuses.get_status_code_distribution,
          "endpoint_status_code_summary"),
    _read("endpoint", "get_error_requests", statuses.get_error_requests, "endpoint_status_code_summary"),
    _read("exception", "get_exception_groups", occurrences.get_exception_groups, "get_exception_occurrence"),
    _read("exception", "count_grouped_exceptions", occurrences.count_grouped_exceptions, "num_exceptions"),
    _read("exception", "count_endpoint_grouped_exceptions", occurrences.count_endpoint_grouped_exceptions,
          "num_endpoint_exceptions"),
    _read("outlier", "count_outliers", occurrences.count_outliers, "num_outliers"),
    _read("outlier", "get_outlier_graph", occurrences.get_outlier_graph, "outlier_graph"),
    _read("outlier", "get_outlier_table", occurrences.get_outlier_table, "outlier_table"),
    _read("profiler", "count_profiled_requests", profiler_reads.count_profiled_requests, "num_profiled"),
    _read("profiler", "get_grouped_profiler", profiler_reads.get_grouped_profiler, "grouped_profiler"),
    _read("profiler", "get_profiler_table", profiler_reads.get_profiler_table, "profiler_table"),
    _read("endpoint", "get_endpoints", load.get_endpoints, "endpoints"),
    _read("request", "get_hourly_load", load.get_hourly_load, "hourly_load"),
    _read("request", "get_num_requests_data", load.get_num_requests_data, "num_requests"),
    Patch(f"{CORE}.cache", "get_endpoints_hits", overview.cached_hits, UPSTREAM,
          guard=(f"{CORE}.cache.init_cache", "get_endpoints_hits")),
    Patch(f"{CORE}.cache", "get_endpoint_averages", overview.cached_averages, UPSTREAM,
          guard=(f"{CORE}.cache.init_cache", "get_endpoint_averages")),
    Patch(f"{CORE}.utils", "count_requests", overview.count_requests, UPSTREAM,
          guard=(f"{CORE}.utils.get_endpoint_details", "count_requests")),
    Patch(f"{CORE}.utils", "count_total_requests", overview.count_total_requests, UPSTREAM,
          guard=(f"{CORE}.utils.get_details", "count_total_requests")),
)

MODULES = (
    Patch(f"{FMD}.database", "engine", store.bound_engine, UPSTREAM, wraps=True,
          guard=(f"{FMD}.database.session_scope", "DBSession")),
    _session_scope(f"{CORE}.cache", f"{CORE}.cache.init_cache"),
    _session_scope(f"{CORE}.measurement", f"{CORE}.measurement.init_measurement"),
    Patch(f"{CORE}.measurement", "get_rules", dashboard.rules_with_views, UPSTREAM,
          guard=(f"{CORE}.measurement.init_measurement", "get_rules")),
    _session_scope(f"{PROFILERS}.outlier_profiler", f"{OUTLIERS}.stop"),
    _session_scope(f"{PROFILERS}.performance_profiler",
                   f"{PROFILERS}.performance_profiler.PerformanceProfiler.run"),
    _session_scope(f"{PROFILERS}.stacktrace_profiler", f"{STACKS}._on_thread_stopped"),
    # Level 1: a timer and a queue append per request; the row is built by the writer (level1.py).
    Patch(f"{CORE}.measurement", "add_wrapper1", level1.add_wrapper1, UPSTREAM,
          guard=(f"{CORE}.measurement.add_decorator", "add_wrapper1")),
    Patch(f"{CORE}.cache", "flush_cache", writer.replacing_flush_cache, UPSTREAM, wraps=True,
          guard=((f"{FMD}.bind", "flush_cache"),
                 (f"{FMD}.controllers.endpoints.get_endpoint_overview", "flush_cache"))),
    Patch(f"{CORE}.measurement", "add_wrapper3", sampling.add_wrapper3, UPSTREAM,
          guard=(f"{CORE}.measurement.add_decorator", "add_wrapper3")),
    Patch(f"{PROFILERS}.stacktrace_profiler", "FILENAME", sampling.SAMPLER_FILE, UPSTREAM,
          guard=(f"{STACKS}.run", "FILENAME")),
    Patch(f"{PROFILERS}.stacktrace_profiler", "FILENAME_LEN", len(sampling.SAMPLER_FILE), UPSTREAM,
          guard=(f"{STACKS}.run", "FILENAME_LEN")),
    Patch(STACKS, "_on_thread_stopped", once(sampling.storing_stack), UPSTREAM, wraps=True,
          guard=((f"{STACKS}.run", "_on_thread_stopped"), (f"{STACKS}._on_thread_stopped", "order_histogram"),
                 (f"{STACKS}.insert_lines_db", "get_last_fn_ln"), (f"{STACKS}.insert_lines_db", "get_indent"),
                 *((f"{STACKS}.__init__", name) for name in sampling.PROFILER_STATE))),
    Patch(OUTLIERS, "__init__", once(dashboard._redact_outliers), UPSTREAM, wraps=True,
          guard=((f"{OUTLIERS}.__init__", "_request"), (f"{OUTLIERS}.add_outlier", "_request"))),
    # Exception messages carry request text: redacted and capped (exceptions.py).
    Patch(f"{FMD}.database.exception_occurrence", "add_exception_message",
          dashboard_exceptions.add_exception_message, UPSTREAM,
          guard=(f"{FMD}.database.exception_occurrence.save_exception_occurence_to_db",
                 "add_exception_message")),
    Patch(f"{CORE}.telemetry", "fetch_ip_from_github", _no_outbound_call, UPSTREAM,
          guard=(f"{CORE}.telemetry.post_to_back_if_telemetry_enabled", "fetch_ip_from_github")),
    *ROLLUP_READS,
)

# Views by endpoint name; the guard is that the endpoint exists. Applied before
# guard.py wraps every /api/ view (so the input checks run first).
ENDPOINTS = (
    Patch(VIEWS, f"{BLUEPRINT}.login", login.login_view, UPSTREAM),
    Patch(VIEWS, f"{BLUEPRINT}.logout", login.logout_view, UPSTREAM),  # ends the sessions
    Patch(VIEWS, f"{BLUEPRINT}.set_rule", once(levels.admin_set_rule), UPSTREAM, wraps=True),
    *(Patch(VIEWS, f"{BLUEPRINT}.{name}", once(_admin_only), UPSTREAM, wraps=True)
      for name in dashboard.ANONYMOUS_STATE_CHANGERS),
    Patch(VIEWS, f"{BLUEPRINT}.deploy_config", dashboard._redact_deploy_config, UPSTREAM, wraps=True),
    Patch(VIEWS, f"{BLUEPRINT}.static", assets.serving_offline_bundle, UPSTREAM, wraps=True),
)
