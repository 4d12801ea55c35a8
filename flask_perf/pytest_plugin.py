"""pytest plugin (entry point ``pytest11``): a test suite's requests become a labelled run.

Off unless ``--perf`` (or ``PERF_PYTEST=1``, or any ``--perf-*`` option): a run that
does not ask changes nothing. When on, ``pytest_configure`` — before any fixture
builds an app — sets for the session (and restores at the end):

- ``FLASK_PERF_VERSION`` = ``<version> test-run <UTC start>``, the label of every
  request the apps record; ``<version>`` is ``FLASK_PERF_VERSION`` if set, else the
  git revision of pytest's rootdir;
- ``FLASK_PERF_DEFAULT_PROFILE=testing``: the profile of apps that choose none
  (``FLASK_PERF_PROFILE`` still beats every app's choice);
- ``FLASK_PERF_STORE_DIR`` from ``--perf-store-dir DIR``: every app's stores in DIR,
  so that runs build up in one place although fixtures use a temporary instance
  folder (otherwise each app's own ``PERF_STORE_DIR``, its instance folder; an
  app's explicit ``PERF_*_DATABASE_URL`` still wins). Read it later with
  ``FLASK_PERF_STORE_DIR=DIR flask perf report``.

At the end it flushes the apps' writers and prints a ``flask_perf`` section: the
slowest endpoints, N+1 findings, slow queries with their full scans, p95 against the
previous test run (report/recorded_session.py keeps what the session's apps wrote,
report/run_summary.py reads it back). ``--perf-fail-over PCT`` fails the session when an
endpoint's p95 grew by more than PCT percent against the previous test run in the
same store; the first run has nothing to compare and passes.
"""
import argparse
import os
from datetime import datetime, timezone

import pytest

ENV_SWITCH = "PERF_PYTEST"
LABEL_MAX = 64  # the slow-query store's app_version column
_RUN = pytest.StashKey["RecordedSession"]()


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (e.g. 20)") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the percentage must be 0 or more")
    return value


def pytest_addoption(parser):
    group = parser.getgroup("flask_perf", "flask_perf: test runs that feed the dashboards")
    group.addoption("--perf", action="store_true", default=False,
                    help="record the apps' test-client requests as the run '<version> test-run "
                         "<start>' and print the slowest endpoints, N+1 findings and full scans "
                         f"(also: {ENV_SWITCH}=1).")
    group.addoption("--perf-fail-over", metavar="PCT", type=_percent, default=None,
                    help="fail the session when an endpoint's p95 grew by more than PCT percent "
                         "against the previous test run in the store (implies --perf).")
    group.addoption("--perf-store-dir", metavar="DIR", default=None,
                    help="keep every app's monitoring stores in DIR, so that runs build up in one "
                         "place (env FLASK_PERF_STORE_DIR; implies --perf).")


def _enabled(config) -> bool:
    switch = os.environ.get(ENV_SWITCH, "").strip().lower()
    if switch not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        raise pytest.UsageError(f"{ENV_SWITCH}={switch!r}: use 1 to record the run, 0 not to")
    return bool(config.getoption("perf") or config.getoption("perf_fail_over") is not None
                or config.getoption("perf_store_dir") or switch in ("1", "true", "yes", "on"))


def _label(config) -> str:
    from flask_perf.config import ENV_VERSION
    from flask_perf.report.runs import TEST_RUN, run_label
    from flask_perf.version import git_revision

    given = os.environ.get(ENV_VERSION, "").strip()
    if TEST_RUN in given:  # already labelled by the session that started this one (xdist)
        return given
    revision = git_revision(str(config.rootpath))
    label = run_label(given or (f"g{revision}" if revision else "unversioned"), datetime.now(timezone.utc))
    if len(label) > LABEL_MAX:
        raise pytest.UsageError(f"the run label {label!r} is longer than the stores keep ({LABEL_MAX}): "
                                f"shorten {ENV_VERSION}")
    return label


def _store_dir(config) -> str | None:
    from flask_perf.config import ENV_STORE_DIR

    path = config.getoption("perf_store_dir") or os.environ.get(ENV_STORE_DIR)
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(f"--perf-store-dir {path}: {exc.strerror or exc}") from None
    return path


def pytest_configure(config):
    if not _enabled(config):
        return
    from flask_perf.config import ENV_DEFAULT_PROFILE, ENV_STORE_DIR, ENV_VERSION
    from flask_perf.report.recorded_session import RecordedSession

    run = RecordedSession(_label(config), config.getoption("perf_fail_over"), _store_dir(config))
    run.set_env(ENV_VERSION, run.label)
    if not os.environ.get(ENV_DEFAULT_PROFILE):
        run.set_env(ENV_DEFAULT_PROFILE, "testing")
    if run.store_dir:
        run.set_env(ENV_STORE_DIR, run.store_dir)
    run.start()
    config.stash[_RUN] = run


def pytest_sessionfinish(session, exitstatus):
    run = session.config.stash.get(_RUN, None)
    if run is None:
        return
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: its controller reports
        run.flush()
        return
    summary = run.finish()
    failed = summary.regressions or (summary.failed and run.fail_over is not None)
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = config.stash.get(_RUN, None)
    if run is None or run.summary is None:
        return
    terminalreporter.write_sep("=", "flask_perf")
    for line in run.summary.lines:
        terminalreporter.write_line(line, red=line.startswith("REGRESSION"), bold=line.startswith("=="))


def pytest_unconfigure(config):
    run = config.stash.get(_RUN, None)
    if run is not None:
        run.stop()
