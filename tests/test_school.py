"""The school endpoints on SQLite and MariaDB, and every bad input of the foundation issue."""
import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Student, student_identifier


def _expected_roster(app, class_id):
    with app.app_context():
        rows = db.session.execute(
            select(Student.id, Student.first_name, Student.last_name)
            .join(student_identifier, student_identifier.c.student_id == Student.id)
            .where(student_identifier.c.class_id == class_id).order_by(Student.id)).all()
    return [{"id": r.id, "name": f"{r.first_name} {r.last_name}"} for r in rows]


def test_roster_lists_the_class_students(app, client):
    response = client.get("/roster?class_id=3")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["class_id"] == 3 and body["class_name"]
    assert body["students"] == _expected_roster(app, 3)
    assert len(body["students"]) > 0


def test_my_class_renders_the_student_classes(app, client):
    response = client.get("/my_class?student_id=5")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    with app.app_context():
        student = db.session.get(Student, 5)
        names = [c.name for c in student.classes]
    assert f"Classes of {student.name}" in page
    assert len(names) == 3 and all(name in page for name in names)


def test_index_links_to_endpoints(client):
    page = client.get("/").get_data(as_text=True)
    assert "/roster?class_id=1" in page and "/my_class?student_id=1" in page


BAD_IDS = [
    ("", "is required"), ("abc", "must be a positive integer"), ("1.5", "must be a positive integer"),
    ("-1", "must be a positive integer"), (" 1", "must be a positive integer"),
    ("0", "must be between 1 and 2147483647"), (str(10**30), "must be between 1 and 2147483647"),
    ("2147483648", "must be between 1 and 2147483647"), ("9" * 5000, "must be between 1"),
    ("1;DROP TABLE students", "must be a positive integer"), ("0x10", "must be a positive integer"),
    ("１", "must be a positive integer"),  # full-width digit: not ASCII
]


@pytest.mark.parametrize("path, name", [("/roster", "class_id"), ("/my_class", "student_id")])
@pytest.mark.parametrize("raw, message", BAD_IDS)
def test_bad_ids_are_400_naming_the_parameter(client, path, name, raw, message):
    query = {} if raw == "" else {name: raw}
    response = client.get(path, query_string=query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request" and body["parameter"] == name
    assert message in body["message"]


@pytest.mark.parametrize("path, name", [("/roster", "class_id"), ("/my_class", "student_id")])
def test_repeated_parameter_is_400(client, path, name):
    response = client.get(f"{path}?{name}=1&{name}=2")
    assert response.status_code == 400
    assert response.get_json()["message"] == f"{name} must be given once"


def test_unknown_class_is_json_404(client):
    response = client.get("/roster?class_id=99999")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "class 99999 does not exist"}


def test_unknown_student_is_html_404(client):
    response = client.get("/my_class?student_id=99999")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "student 99999 does not exist" in response.get_data(as_text=True)


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_wrong_method_is_405(client, method):
    response = getattr(client, method)("/roster?class_id=1")
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    html = getattr(client, method)("/my_class?student_id=1")
    assert html.status_code == 405 and html.mimetype == "text/html"
