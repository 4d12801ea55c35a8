"""``flask perf``: one command group for any app that has the extension.

Each command is a thin click function next to the code it drives; this module
only assembles the group. ``flask db`` is left to Flask-Migrate.
"""
from flask.cli import AppGroup

from flask_perf.loadtest.cli import loadtest
from flask_perf.report.cli import report_command
from flask_perf.sql.statements import explain_command, indexes_command
from flask_perf.stores.status import init_command, prune_command, status_command
from flask_perf.wsgi_profiler.cli import profiles

perf_group = AppGroup("perf", help="flask_perf: stores, EXPLAIN, indexes, reports, load tests.")
for command in (status_command, init_command, prune_command, explain_command, indexes_command,
                report_command, loadtest, profiles):
    perf_group.add_command(command)
