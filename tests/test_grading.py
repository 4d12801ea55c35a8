"""/class_report against the real grading service process: numbers, errors, profile.

The service runs as its own process (``python -m grading_service``), as in
production an external API would; nothing here is mocked.
"""
import os
import pstats
from concurrent.futures import ThreadPoolExecutor
from statistics import fmean

import pytest
import requests

from grading_service import grade_for
from tests.conftest import SMALL
from tests.support import free_port, start_grading_service
from flask_perf.wsgi_profiler import list_profiles, profile_dir
from webapp.seed import seed

LATENCY_MS = 10  # per call: 15 students per class make a report wait ~150 ms on sockets


@pytest.fixture(scope="module")
def grading(tmp_path_factory):
    service = start_grading_service(tmp_path_factory.mktemp("grading"), latency_ms=LATENCY_MS)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def slow_grading(tmp_path_factory):
    service = start_grading_service(tmp_path_factory.mktemp("slow-grading"), latency_ms=2000)
    yield service
    service.stop()


@pytest.fixture
def graded_app(app, grading):
    app.config["GRADING_SERVICE_URL"] = grading.url
    return app


def test_service_grades_depend_only_on_the_id_and_bad_ids_are_400(grading):
    answer = requests.get(f"{grading.url}/grades/7", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"student_id": 7, "grade": grade_for(7), "scale": 100}
    assert requests.get(f"{grading.url}/grades/7", timeout=5).json() == answer.json()
    assert {grade_for(i) for i in range(1, 500)} <= set(range(40, 101))
    for bad in ("abc", "0", "-3", str(10**12), "7?delay_ms=x", "7?delay_ms=99999999"):
        response = requests.get(f"{grading.url}/grades/{bad}", timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["error"] == "bad_request"
    missing = requests.get(f"{grading.url}/nothing", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    health = requests.get(f"{grading.url}/health", timeout=5).json()
    assert health == {"status": "ok", "latency_ms": LATENCY_MS, "jitter_ms": 0}


def test_service_answers_callers_side_by_side_and_honours_delay_ms(grading):
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.get, f"{grading.url}/grades/1?delay_ms=2500", timeout=10)
        # a one-thread server would keep this caller waiting behind the slow one (timeout)
        fast = requests.get(f"{grading.url}/grades/2", timeout=2)
        assert fast.json()["grade"] == grade_for(2)
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{grading.url}/grades/3?delay_ms=2500", timeout=0.3)
        assert slow.result().json()["grade"] == grade_for(1)


def test_service_command_refuses_a_taken_port(grading, make_app):
    port = grading.url.rsplit(":", 1)[1]
    result = make_app("bare").test_cli_runner().invoke(args=["grading-service", "--port", port])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_report_numbers_are_what_the_service_returned(graded_app, client, grading):
    response = client.get("/class_report?class_id=3")
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    roster = client.get("/roster?class_id=3").get_json()
    assert report["class_name"] == roster["class_name"]
    assert [s["id"] for s in report["students"]] == [s["id"] for s in roster["students"]]
    assert report["students"], "the seeded class has students"
    grades = []
    for student in report["students"]:
        served = requests.get(f"{grading.url}/grades/{student['id']}", timeout=5).json()
        assert student["grade"] == served["grade"]
        grades.append(served["grade"])
    assert report["count"] == len(grades)
    assert report["average"] == round(fmean(grades), 2)
    assert (report["min"], report["max"]) == (min(grades), max(grades))


@pytest.mark.parametrize("query", ["", "?class_id=", "?class_id=abc", "?class_id=-1",
                                   "?class_id=0", "?class_id=1.5", "?class_id=1&class_id=2"])
def test_report_bad_class_id_is_a_json_400(graded_app, client, query):
    response = client.get(f"/class_report{query}")
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["parameter"] == "class_id"


def test_report_unknown_class_is_a_json_404_and_wrong_method_a_json_405(graded_app, client):
    response = client.get("/class_report?class_id=99999")
    assert response.status_code == 404 and response.is_json
    assert response.get_json() == {"error": "not_found", "message": "class 99999 does not exist"}
    response = client.delete("/class_report?class_id=1")
    assert response.status_code == 405 and response.is_json


def test_a_service_slower_than_the_timeout_is_a_json_504(app, client, slow_grading):
    app.config.update(GRADING_SERVICE_URL=slow_grading.url, GRADING_TIMEOUT_S=0.2)
    response = client.get("/class_report?class_id=3")
    assert response.status_code == 504 and response.is_json
    body = response.get_json()
    assert body["error"] == "gateway_timeout"
    assert f"grading service at {slow_grading.url} did not answer within 0.2 s" in body["message"]


def test_no_service_listening_is_a_json_502(app, client):
    url = f"http://127.0.0.1:{free_port()}"
    app.config["GRADING_SERVICE_URL"] = url
    response = client.get("/class_report?class_id=3")
    assert response.status_code == 502 and response.is_json
    body = response.get_json()
    assert body["error"] == "bad_gateway"
    assert body["message"] == f"the grading service at {url} is unreachable (connection refused or reset)"


def test_werkzeug_profile_of_class_report_is_dominated_by_socket_reads(make_app, tmp_path, grading):
    app = make_app("profiling", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_WSGI_PROFILER_RESTRICTIONS=[],
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}",
                   GRADING_SERVICE_URL=grading.url)
    with app.app_context():
        seed(SMALL, reset=True)
    response = app.test_client().get("/class_report?class_id=3")
    assert response.status_code == 200
    [newest] = list_profiles(profile_dir(app))
    assert newest.name.startswith("GET.class_report.")
    stats = pstats.Stats(newest.path)
    by_own_time = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)
    (filename, _line, function), (_cc, calls, own_s, _cum, _callers) = by_own_time[0]
    assert "recv" in function and "socket" in function, by_own_time[:3]
    assert calls >= response.get_json()["count"]  # each student's answer waited for
    total_s = sum(entry[2] for entry in stats.stats.values())
    assert own_s > total_s / 2  # more than half the request: waiting, not working
    assert os.path.basename(filename) == "~"  # a C method of the socket object
