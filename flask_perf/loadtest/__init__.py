"""``flask perf loadtest``: Locust load against any app, results saved, stores cross-checked.

- ``cli.py``              the click commands (``loadtest``, ``loadtest list``)
- ``run.py``              one run: server, Locust process, recorded counts, summary
- ``app_import.py``       the app the user passed to ``flask --app``, as gunicorn names it
- ``server.py``           that app under gunicorn for the length of a run
- ``locustfiles.py``      which locustfile, and the scenario names it declares (read, not imported)
- ``routes.py``           the default scenario's paths: every parameterless GET route
- ``default_scenario.py`` the locustfile used when the app has none
- ``locust_run.py``, ``users.py``  the Locust process and the user classes it runs
- ``results.py``          a run's folder, summary and records in the monitoring stores

Locust runs in its own process: gevent must patch the standard library before ssl
is imported, and importing flask_perf imports it (through the tools' dependencies),
so the process patches first and only then runs ``locust_run`` (``locust_argv``).
"""
import sys

RUN_HEADER = "X-Loadtest-Run"
# `python -m flask_perf.loadtest.locust_run` would import flask_perf before gevent patches.
_BOOTSTRAP = ("from gevent import monkey; monkey.patch_all(); import runpy; "
              "runpy.run_module('flask_perf.loadtest.locust_run', run_name='__main__', alter_sys=True)")


def locust_argv(config_path: str, worker: bool = False) -> list[str]:
    """The command line of the Locust process (local or master; ``worker``: a worker)."""
    return [sys.executable, "-c", _BOOTSTRAP, config_path, *(["--worker"] if worker else [])]
