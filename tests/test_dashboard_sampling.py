"""Level-3 call stacks within a budget: every request counted, stacks for the sampled ones."""
import sqlite3

import pytest

from tests.conftest import SMALL
from tests.support import flush_monitoring
from webapp.seed import seed


@pytest.mark.parametrize("every, in_flight, profiled", [
    (1, 1000, {10}), (2, 1000, {5}), (1, 0, {0}),
    (1, 1, set(range(1, 11))),  # a budget of one: profiled while the previous write is done
])
def test_counts_stay_exact_while_stacks_are_sampled(make_app, tmp_path, every, in_flight, profiled):
    app = make_app("development", MONITORING_DIR=str(tmp_path / "mon"), DEBUG_TB_ENABLED=False,
                   DASHBOARD_STACK_SAMPLE_EVERY=every, DASHBOARD_STACKS_IN_FLIGHT=in_flight,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    client = app.test_client()
    for class_id in range(1, 11):
        assert client.get(f"/roster?class_id={class_id}").status_code == 200
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        requests = conn.execute("SELECT COUNT(*) FROM Request").fetchone()[0]
        with_stacks = conn.execute("SELECT COUNT(DISTINCT request_id) FROM StackLine").fetchone()[0]
    assert requests == 10
    assert with_stacks in profiled
