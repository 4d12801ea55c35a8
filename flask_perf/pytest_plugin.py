"""pytest plugin (entry point ``pytest11``): off unless ``--perf`` or ``PERF_PYTEST=1``."""


def pytest_addoption(parser):
    group = parser.getgroup("flask_perf")
    group.addoption("--perf", action="store_true", default=False,
                    help="flask_perf: record the app's test-client requests as a labelled run.")
