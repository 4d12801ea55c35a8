"""The dashboard does not load scipy, numpy or APScheduler into every process: only its pages need them."""
import subprocess
import sys

from tests.support import ROOT

SCRIPT = """
import sys
from webapp import create_app
app = create_app("production", {"INSTANCE_PATH": sys.argv[1], "SECRET_KEY": "7d4e1a9c3f8b2e6d0a5c9f4b8e3d7a1c6f2b9e5d"})
stats = sys.modules.get("scipy.stats")
print("deferred" if type(stats).__name__ == "_DeferredStats" else "loaded")
from flask_monitoringdashboard.core.reporting.questions import median_latency
result = median_latency.median_test([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
print("real" if type(sys.modules["scipy.stats"]).__name__ != "_DeferredStats" else "still deferred")
print(round(float(result[1]), 4))
"""


def test_scipy_loads_only_when_the_report_asks(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    state, after, p_value = out.stdout.split()[-3:]
    assert (state, after) == ("deferred", "real")
    assert 0 < float(p_value) < 0.05  # the real median test: two clearly different samples


DEFERRED = """
import sys
from webapp import create_app
app = create_app("production", {"INSTANCE_PATH": sys.argv[1], "SECRET_KEY": "7d4e1a9c3f8b2e6d0a5c9f4b8e3d7a1c6f2b9e5d"})
print("numpy" in sys.modules, "apscheduler" in sys.modules)
from flask_monitoringdashboard.controllers import requests
from flask_monitoringdashboard.core import custom_graph, utils
from flask_monitoringdashboard.core.profiler.util import grouped_stack_line
from flask_monitoringdashboard.database import data_grouped
print(float(data_grouped.median([1, 9, 2])), round(float(grouped_stack_line.std([1, 3])), 3),
      requests.numpy.zeros((2, 3)).shape, float(utils.np.percentile([1, 2, 3, 4, 5], 25)))
print(custom_graph.scheduler.get_job("database_pruning_schedule"), custom_graph.scheduler.running,
      type(custom_graph.scheduler._real_scheduler()).__name__)
import numpy, numpy.linalg
print(type(sys.modules["numpy"]).__name__, float(numpy.linalg.norm([3, 4])), "apscheduler" in sys.modules)
"""


def test_numpy_and_apscheduler_load_when_the_dashboard_uses_them(tmp_path):
    out = subprocess.run([sys.executable, "-c", DEFERRED, str(tmp_path)], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()[-4:]
    assert lines[0] == "False False"  # a worker that has served no dashboard page has neither
    assert lines[1] == "2.0 1.0 (2, 3) 2.0"  # FMD's calls answer with numpy's results
    assert lines[2] == "None False BackgroundScheduler"  # a real scheduler, never started
    assert lines[3] == "module 5.0 True"  # the app's own imports get the real packages


def test_the_stand_ins_cover_what_fmd_imports():
    """Fails when an FMD release imports another name of numpy or APScheduler at load: that
    import would then load the real package in every worker (lazy.STAND_INS needs it)."""
    import ast
    from pathlib import Path

    import flask_monitoringdashboard

    from flask_perf.dashboard.lazy import STAND_INS

    heavy = ("numpy", "apscheduler")
    wanted: dict[str, set] = {}
    for path in Path(flask_monitoringdashboard.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in heavy:
                wanted.setdefault(node.module, set()).update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in heavy:
                        wanted.setdefault(alias.name, set())
    assert wanted, "FMD no longer imports numpy or APScheduler: lazy.deferred_imports can go"
    for module, names in wanted.items():
        assert module in STAND_INS, module
        assert names <= set(STAND_INS[module]), (module, names - set(STAND_INS[module]))
