"""Everything flask_perf replaces in flask-debugtoolbar, checked against 0.16.0.

Applied after the toolbar is attached (``ROWS``). Each row's guard is the toolbar
code that must still look the name up (or, for a view, that its endpoint exists),
so a release that renames it stops the app at start (patching.py) instead of
bringing back what the row fixes: the SQL panel's SELECT/EXPLAIN view answering
500 on SQLAlchemy 2 (pallets-eco/flask-debugtoolbar#232), and the profiler panel's
per-request path formatting. Our panels (panels.py) are subclasses named in
DEBUG_TB_PANELS, the toolbar's own setting, not patches.
"""
from flask_perf import toolbar
from flask_perf.patching import VIEWS, Patch
from flask_perf.toolbar import panels

UPSTREAM = ("flask-debugtoolbar", "0.16.0")
PROFILER_PANEL = "flask_debugtoolbar.panels.profiler"

ROWS = (
    Patch(PROFILER_PANEL, "format_fname", panels.cached_format_fname, UPSTREAM,
          guard=(f"{PROFILER_PANEL}.ProfilerDebugPanel.process_response", "format_fname")),
    Patch(VIEWS, "debugtoolbar.sql_select", toolbar.sql_select, UPSTREAM),
)
