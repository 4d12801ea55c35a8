"""The demo app with Flask-MonitoringDashboard as shipped, level 1 (see __init__.py)."""
import os

import flask_monitoringdashboard as fmd

from webapp import create_app

app = create_app("bare")
fmd.config.database_name = f"sqlite:///{os.environ['BENCH_FMD_DATABASE']}"
fmd.config.monitor_level = 1
fmd.config.enable_logging = False
fmd.bind(app, schedule=False)
