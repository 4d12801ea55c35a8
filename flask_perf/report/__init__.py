"""``flask report``: one place for what every tool measured, per endpoint and version.

``data`` reads the stores (never request-time objects); ``render`` prints the
terminal report and writes the self-contained HTML page; ``cli`` holds the command
and the regression gate. ``runs`` finds labelled test runs and the previous one, and
holds the gate's p95 rule; ``recorded_session`` and ``run_summary`` serve the pytest
plugin (``flask_perf/pytest_plugin.py``).
"""
