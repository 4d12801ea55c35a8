"""``build_class_report(class_id)``: a class, its students and each one's grade.

The grades come from the grading service, one HTTP call per student in turn: the
time of a report is spent waiting on sockets. That is what the profilers show for
``GET /class_report``, and what moving the report to a background job takes out
of the web request. The same function serves both; it needs an app context.
"""
from statistics import fmean, median

from webapp.extensions import db
from webapp.grading.client import grading_client
from webapp.models import Class
from webapp.school.queries import class_roster


class ClassNotFound(LookupError):
    def __init__(self, class_id: int):
        super().__init__(f"class {class_id} does not exist")
        self.class_id = class_id


def build_class_report(class_id: int) -> dict:
    """Grades of every student of ``class_id`` and their summary; raises ClassNotFound or
    GradingUnavailable."""
    school_class = db.session.get(Class, class_id)
    if school_class is None:
        raise ClassNotFound(class_id)
    client = grading_client()
    students = [{"id": s.id, "name": s.name, "grade": client.grade(s.id)}
                for s in class_roster(class_id)]
    grades = [s["grade"] for s in students]
    return {
        "class_id": school_class.id,
        "class_name": school_class.name,
        "students": students,
        "count": len(grades),
        "average": round(fmean(grades), 2) if grades else None,
        "median": median(grades) if grades else None,
        "min": min(grades, default=None),
        "max": max(grades, default=None),
    }
