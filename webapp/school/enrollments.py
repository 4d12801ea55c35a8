"""The app's write endpoint: ``POST /enrollments`` and ``DELETE /enrollments`` (JSON).

Ids (``student_id``, ``class_id``) come from a JSON object or a form body, or from the
query string, checked by the same rules as the read endpoints' parameters (400 naming
the parameter). Unknown student or class → 404; enrolling twice → 409; removing an
enrollment that does not exist → 404. Success: 201 with the enrollment (``Location``:
the student's ``/my_class``), 204 for a removal.

``student_identifier`` has no unique constraint (its index would hide the demo's full
scan), so two enrollments of one student are serialised by locking the student's row
(``SELECT ... FOR UPDATE``) before the duplicate check. SQLite has no row locks (it
ignores FOR UPDATE): there, two simultaneous identical requests can still both insert.
Writes always run on the primary, and the response makes the client's next reads use
it (webapp/replica.py).
"""
from flask import jsonify, request, url_for
from sqlalchemy import delete, insert, select
from werkzeug.exceptions import Conflict, NotFound

from webapp.extensions import db
from webapp.models import Class, Student, student_identifier
from webapp.school.params import BadParameter, id_arg, parse_id
from webapp.school.routes import JSON_PATHS, bp

FIELDS = ("student_id", "class_id")
JSON_PATHS.add("/enrollments")  # its errors answer JSON too


def _body_id(data, name: str) -> int:
    """``data[name]`` as an id: a JSON integer or a string of digits, in 1..MAX_ID."""
    value = data.get(name)
    if value is None or value == "":
        raise BadParameter(name, f"{name} is required")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if value >= 0 else "-"
    if not isinstance(value, str):
        raise BadParameter(name, f"{name} must be a positive integer")
    return parse_id(name, value)


def enrollment_ids() -> tuple[int, int]:
    """(student_id, class_id) from the JSON body, the form, or the query string."""
    if request.is_json:
        try:
            data = request.get_json()  # malformed JSON: a 400 from Flask
        except RecursionError:  # nested deeper than the JSON parser goes
            raise BadParameter("body", "the JSON body is nested too deeply") from None
        if not isinstance(data, dict):
            raise BadParameter("body", "the JSON body must be an object")
    elif request.form:
        data = request.form
        for name in FIELDS:
            if len(data.getlist(name)) > 1:
                raise BadParameter(name, f"{name} must be given once")
    else:
        return id_arg("student_id"), id_arg("class_id")
    return _body_id(data, "student_id"), _body_id(data, "class_id")


def _enrolled(student_id: int, class_id: int) -> bool:
    found = db.session.execute(select(student_identifier.c.student_id).where(
        student_identifier.c.student_id == student_id,
        student_identifier.c.class_id == class_id).limit(1)).first()
    return found is not None


@bp.post("/enrollments")
def enroll():
    student_id, class_id = enrollment_ids()
    db.get_or_404(Student, student_id, with_for_update=True,
                  description=f"student {student_id} does not exist")
    school_class = db.get_or_404(Class, class_id, description=f"class {class_id} does not exist")
    if _enrolled(student_id, class_id):
        raise Conflict(f"student {student_id} is already enrolled in class {class_id}")
    class_name = school_class.name  # before the commit expires it (a second SELECT)
    db.session.execute(insert(student_identifier).values(student_id=student_id, class_id=class_id))
    db.session.commit()
    response = jsonify(student_id=student_id, class_id=class_id, class_name=class_name)
    response.status_code = 201
    response.headers["Location"] = url_for("school.my_class", student_id=student_id)
    return response


@bp.delete("/enrollments")
def unenroll():
    student_id, class_id = enrollment_ids()
    result = db.session.execute(delete(student_identifier).where(
        student_identifier.c.student_id == student_id,
        student_identifier.c.class_id == class_id))
    if result.rowcount == 0:
        raise NotFound(f"student {student_id} is not enrolled in class {class_id}")
    db.session.commit()
    return "", 204
