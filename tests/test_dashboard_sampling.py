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
    monkeypatch.setitem(sampling._state, "empty_until", 0.0)
    burst = [sampling._take_token(100.0) for _ in range(4)]
    assert burst == [True, True, False, False]  # a burst gets the bucket, then nothing
    assert sampling._state["empty_until"] == 100.5  # _take_slot skips the lock until then
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


def stored_stack(db, request_id: int) -> tuple:
    """A request as FMD's profiler page reads it: its row, its stack lines with their code."""
    request = db.execute("SELECT endpoint_id, round(duration, 6), ip, group_by, status_code, version_requested "
                         "FROM Request WHERE id = ?", (request_id,)).fetchone()
    lines = db.execute("SELECT s.position, s.indent, round(s.duration, 6), c.filename, c.line_number, "
                       "c.function_name, c.code FROM StackLine s JOIN CodeLine c ON c.id = s.code_id "
                       "WHERE s.request_id = ? ORDER BY s.position", (request_id,)).fetchall()
    outliers = db.execute("SELECT COUNT(*) FROM Outlier WHERE request_id = ?", (request_id,)).fetchone()[0]
    return request, lines, outliers


def test_a_stack_is_stored_as_fmd_stores_it(make_app, tmp_path, monkeypatch):
    """stacks.store writes FMD's rows: the same request, lines, positions, indents, durations,
    code lines and outlier record as FMD's own _on_thread_stopped; also from its id cache, and
    after the CodeLine rows it cached were replaced."""
    from flask_monitoringdashboard.core.profiler.stacktrace_profiler import StacktraceProfiler

    from flask_perf.dashboard import sampling, stacks
    from flask_perf.patching import ORIGINAL
    from tests.support import wait_for_dashboard_threads

    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=False,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}",
                   PERF_DASHBOARD_STACKS_PER_SECOND=0, PERF_DASHBOARD_STACKS_IN_FLIGHT=1000)
    with app.app_context():
        seed(SMALL, reset=True)
    stock = getattr(StacktraceProfiler._on_thread_stopped, ORIGINAL)
    profilers = []
    monkeypatch.setattr(StacktraceProfiler, "_on_thread_stopped",
                        lambda self: (profilers.append(self), sampling._release_slot()))
    client = app.test_client()
    for n in range(6):
        assert client.get(f"/roster?class_id={n + 1}").status_code == 200
        assert client.get(f"/my_class?student_id={n + 1}").status_code == 200
    wait_for_dashboard_threads()
    profilers[0]._outlier_profiler._memory = "an outlier"  # FMD stores its record with the stack
    db = sqlite3.connect(tmp_path / "mon" / "dashboard.db")
    last_id = lambda: db.execute("SELECT MAX(id) FROM Request").fetchone()[0]  # noqa: E731
    stored = []
    for round_ in range(3):
        if round_ == 2:  # other rows under the cached ids: each line is looked up again
            db.execute("UPDATE CodeLine SET code = code || ' (old)'")
            db.commit()
        for profiler in profilers:
            stock(profiler)
            theirs = stored_stack(db, last_id())
            stacks.store(profiler)
            stored.append(stored_stack(db, last_id()))
            assert stored[-1] == theirs
    assert len(profilers) == 12 and stored[0][2] == 1  # the outlier record
    # a stack whose sampled frame had no line number (f_lineno None) is lost by FMD's code too
    assert sum(len(lines) >= 3 for _, lines, _ in stored) >= len(stored) - 3


def test_stacks_follow_a_replaced_store_file(make_app, tmp_path):
    """Stacks are written on a kept connection: a store file deleted and created again gets
    the next stacks (not the unlinked file), their code lines looked up in the new file."""
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=False,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}",
                   PERF_DASHBOARD_STACKS_PER_SECOND=0, PERF_DASHBOARD_STACKS_IN_FLIGHT=1000)
    with app.app_context():
        seed(SMALL, reset=True)
    client, store = app.test_client(), tmp_path / "mon" / "dashboard.db"
    for round_ in range(2):
        for n in range(4):
            assert client.get(f"/roster?class_id={n + 1}").status_code == 200
        flush_monitoring(app)
        with sqlite3.connect(store) as conn:
            assert conn.execute("SELECT COUNT(DISTINCT request_id) FROM StackLine").fetchone()[0] == 4
            assert conn.execute("SELECT COUNT(*) FROM StackLine s LEFT JOIN CodeLine c ON c.id = s.code_id "
                                "WHERE c.id IS NULL").fetchone()[0] == 0
        if round_ == 0:
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / "mon" / f"dashboard.db{suffix}").unlink(missing_ok=True)
            app.extensions["flask_perf"].writers["dashboard"]._check_file()  # a new file, its tables made
