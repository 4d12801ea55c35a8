"""``flask loadtest``: Locust load against the app, results saved, dashboards cross-checked.

Locust runs in its own process (it monkey-patches the standard library with gevent
at import, which must happen before anything else is imported): ``locust_run``
is that process; ``cli`` orchestrates the server, the run and the summary.
"""
RUN_HEADER = "X-Loadtest-Run"
# Names of the scenarios in scenarios.SCENARIOS; kept here because importing
# scenarios imports Locust, which must not happen in the Flask CLI process.
SCENARIO_NAMES = ("default", "roster", "readwrite", "class_report", "class_report_jobs")
