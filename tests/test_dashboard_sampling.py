"""Level-3 call stacks within a budget: every request counted, stacks for the sampled ones."""
import sqlite3

import pytest

from tests.conftest import SMALL
from tests.support import flush_monitoring
from webapp.seed import seed


def send_rosters(make_app, tmp_path, count: int, **config) -> tuple[int, int]:
    """(requests stored, requests with call stacks) after ``count`` /roster requests at level 3."""
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=False,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", **config)
    with app.app_context():
        seed(SMALL, reset=True)
    client = app.test_client()
    for n in range(count):
        assert client.get(f"/roster?class_id={n % 12 + 1}").status_code == 200
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        return (conn.execute("SELECT COUNT(*) FROM Request").fetchone()[0],
                conn.execute("SELECT COUNT(DISTINCT request_id) FROM StackLine").fetchone()[0])


@pytest.mark.parametrize("every, in_flight, profiled", [
    (1, 1000, {10}), (2, 1000, {5}), (1, 0, {0}),
    (1, 1, set(range(1, 11))),  # a budget of one: profiled while the previous write is done
])
def test_counts_stay_exact_while_stacks_are_sampled(make_app, tmp_path, every, in_flight, profiled):
    requests, with_stacks = send_rosters(make_app, tmp_path, 10, PERF_DASHBOARD_STACK_SAMPLE_EVERY=every,
                                         PERF_DASHBOARD_STACKS_IN_FLIGHT=in_flight,
                                         PERF_DASHBOARD_STACKS_PER_SECOND=0)
    assert requests == 10
    assert with_stacks in profiled


def test_stacks_per_second_is_a_token_bucket(monkeypatch):
    from flask_perf.dashboard import sampling

    monkeypatch.setitem(sampling._state, "per_second", 2.0)
    monkeypatch.setitem(sampling._state, "burst", 2.0)
    monkeypatch.setitem(sampling._state, "tokens", 2.0)
    monkeypatch.setitem(sampling._state, "stamp", 100.0)
    burst = [sampling._take_token(100.0) for _ in range(4)]
    assert burst == [True, True, False, False]  # a burst gets the bucket, then nothing
    assert sampling._take_token(100.3) is False  # 0.6 of a token back
    assert sampling._take_token(100.5) is True  # 1.0: one more
    assert [sampling._take_token(110.0) for _ in range(3)] == [True, True, False]  # capped at 2
    monkeypatch.setitem(sampling._state, "burst", 5.0)  # a larger bucket, the same rate
    assert [sampling._take_token(120.0) for _ in range(6)] == [True] * 5 + [False]
    assert sampling._take_token(120.4) is False and sampling._take_token(120.5) is True
    monkeypatch.setitem(sampling._state, "per_second", 0.0)
    assert all(sampling._take_token(110.0) for _ in range(100))  # 0: no cap


def test_a_load_gets_a_steady_sample_and_every_request_counted(make_app, tmp_path):
    requests, with_stacks = send_rosters(make_app, tmp_path, 40, PERF_DASHBOARD_STACKS_PER_SECOND=3,
                                         PERF_DASHBOARD_STACKS_IN_FLIGHT=1000)
    assert requests == 40
    assert 3 <= with_stacks < 40
