"""The dashboard does not load scipy into every process: only its report page needs it."""
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
