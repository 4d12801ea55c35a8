"""The locustfile of an app that has none: every parameterless GET route, in turn.

``flask perf loadtest`` lists the paths (``routes.default_paths``) and passes them
as JSON in ``LOADTEST_PATHS``. Each user requests them round-robin from its own
starting point, so every route gets its share, with the run id header
(``LOADTEST_RUN``) that lets the monitoring stores count this run's requests.
An answer of 400 or more counts as a failure, as Locust counts it.
"""
import itertools
import json
import os
import random

from locust import HttpUser, task

from flask_perf.loadtest import RUN_HEADER


class EveryGetRouteUser(HttpUser):
    def on_start(self):
        paths = json.loads(os.environ.get("LOADTEST_PATHS") or '["/"]')
        start = random.randrange(len(paths))
        self.paths = itertools.cycle(paths[start:] + paths[:start])
        self.client.headers[RUN_HEADER] = os.environ.get("LOADTEST_RUN", "manual")

    @task
    def next_route(self):
        self.client.get(next(self.paths))
