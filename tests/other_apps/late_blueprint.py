"""A school timetable whose ``reports`` blueprint is registered after ``perf.init_app``
(a plugin-style blueprint added at the end of the factory): flask_perf must measure it too.
"""
import os

from flask import Blueprint, Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy

from flask_perf import FlaskPerf
from tests.other_apps import instance_path

MONITOR_PASSWORD = "timetable-monitor-pw-2"
db = SQLAlchemy()
perf = FlaskPerf()
reports = Blueprint("reports", __name__, url_prefix="/reports")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><ul>{% for row in rows %}<li>{{ row }}</li>{% endfor %}</ul></body></html>"""


class Lesson(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    room = db.Column(db.String(10), nullable=False)  # no index
    subject = db.Column(db.String(40), nullable=False)


def create_app(instance: str | None = None, **config) -> Flask:
    app = Flask(__name__, instance_path=instance_path(instance))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SECRET_KEY="timetable-test-secret-key-not-for-production",
                      SQLALCHEMY_DATABASE_URI="sqlite:///timetable.db",
                      PERF_MONITOR_PASSWORD=MONITOR_PASSWORD)
    app.config.update(config)
    db.init_app(app)
    app.add_url_rule("/", view_func=timetable)
    app.cli.command("seed")(seed)
    perf.init_app(app)
    app.register_blueprint(reports)  # after init_app
    return app


def timetable():
    lessons = db.session.scalars(db.select(Lesson).order_by(Lesson.id).limit(20)).all()
    return render_template_string(PAGE, title="Timetable", rows=[f"{x.room}: {x.subject}" for x in lessons])


@reports.route("/")
def rooms():
    rows = db.session.scalars(db.select(Lesson.subject).where(Lesson.room == "B12")).all()
    return render_template_string(PAGE, title="Room B12", rows=rows)


@reports.route("/subjects")
def subjects():
    rows = db.session.execute(db.select(Lesson.subject, db.func.count()).group_by(Lesson.subject))
    return {subject: count for subject, count in rows}


def seed():
    """Create the table and 240 lessons in six rooms."""
    db.create_all()
    subjects = ("maths", "history", "biology", "music")
    db.session.add_all(Lesson(room=f"B1{n % 6}", subject=subjects[n % 4]) for n in range(240))
    db.session.commit()
