"""Views of the school blueprint."""
from flask import Blueprint, current_app, jsonify, render_template

from webapp.extensions import db
from webapp.models import Class, Student
from webapp.school.params import id_arg
from webapp.school.queries import class_roster, student_classes

bp = Blueprint("school", __name__, template_folder="templates")

# Paths whose errors are JSON (the rest of the app answers HTML).
JSON_PATHS = {"/roster", "/stats"}


@bp.get("/")
def index():
    return render_template("school/index.html", profile=current_app.config["PERF_PROFILE"],
                           tools=current_app.extensions["flask_perf"].tools)


@bp.get("/roster")
def roster():
    class_id = id_arg("class_id")
    school_class = db.get_or_404(Class, class_id, description=f"class {class_id} does not exist")
    students = class_roster(class_id)
    return jsonify(
        class_id=school_class.id,
        class_name=school_class.name,
        students=[{"id": s.id, "name": s.name} for s in students],
    )


@bp.get("/my_class")
def my_class():
    student_id = id_arg("student_id")
    student = db.get_or_404(Student, student_id, description=f"student {student_id} does not exist")
    return render_template("school/my_class.html", student=student,
                           classes=student_classes(student_id))


from webapp.school import enrollments  # noqa: E402,F401  (registers /enrollments on bp)
