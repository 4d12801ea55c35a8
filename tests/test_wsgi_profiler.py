"""ProfilerMiddleware: unique .prof names, a bounded directory, the profiles CLI."""
import os

import pytest

from tests.conftest import SMALL
from flask_perf.wsgi_profiler import NAME
from webapp.seed import seed


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app("profiling", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_WSGI_PROFILER_KEEP=5,
                   PERF_WSGI_PROFILER_RESTRICTIONS=[], TESTING=True,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    return app


def prof_files(tmp_path):
    return sorted(f for f in os.listdir(tmp_path / "mon" / "profiles") if f.endswith(".prof"))


def test_each_request_gets_its_own_file_and_the_newest_are_kept(app, tmp_path):
    client = app.test_client()
    for _ in range(3):
        client.get("/roster?class_id=1")
    assert len(prof_files(tmp_path)) == 3  # same path, same second: no overwrite
    for _ in range(9):
        client.get("/my_class?student_id=2")
    files = prof_files(tmp_path)
    assert len(files) == 5
    assert all(NAME.match(f)["path"] == "my_class" for f in files)
    assert all(NAME.match(f)["pid"] == str(os.getpid()) for f in files)


def test_profiles_cli_lists_and_graphs(app, tmp_path):
    app.test_client().get("/roster?class_id=1")
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["perf", "profiles"])
    assert listing.exit_code == 0 and "/roster" in listing.output and "GET" in listing.output
    graph = runner.invoke(args=["perf", "profiles", "graph"])
    assert graph.exit_code == 0, graph.output
    svg_path = graph.output.strip().split("Wrote ")[1]
    with open(svg_path) as handle:
        content = handle.read()
    assert content.lstrip().startswith("<?xml") and "<svg" in content
    assert "roster" in content  # the view function appears in the call graph


def test_profiles_graph_of_missing_file_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["perf", "profiles", "graph", "nope.prof"])
    assert result.exit_code == 1 and "no such profile: nope.prof" in result.output
