"""A notice board in one module: a module-level ``app``, no factory, no blueprints.

``flask --app tests.other_apps.single_module seed`` creates the table and the notes.
"""
import os

from flask import Flask, abort, render_template_string, request
from flask_sqlalchemy import SQLAlchemy

from flask_perf import FlaskPerf
from tests.other_apps import instance_path

MONITOR_PASSWORD = "board-monitor-pw-3"

app = Flask(__name__, instance_path=instance_path())
os.makedirs(app.instance_path, exist_ok=True)
app.config.update(SECRET_KEY="board-test-secret-key-not-for-production",
                  SQLALCHEMY_DATABASE_URI="sqlite:///board.db",
                  PERF_MONITOR_PASSWORD=MONITOR_PASSWORD)
db = SQLAlchemy(app)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Board</title></head>
<body><h1>Notes tagged {{ tag }}</h1>
<ul>{% for note in notes %}<li>{{ note.text }}</li>{% endfor %}</ul></body></html>"""


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    tag = db.Column(db.String(20), nullable=False)  # no index: the board scans
    text = db.Column(db.String(200), nullable=False)


@app.route("/")
def board():
    tag = request.args.get("tag", "general")
    notes = db.session.scalars(db.select(Note).where(Note.tag == tag)).all()
    return render_template_string(PAGE, tag=tag, notes=notes)


@app.route("/notes/<int:note_id>")
def note(note_id: int):
    found = db.session.get(Note, note_id) or abort(404)
    return {"id": found.id, "tag": found.tag, "text": found.text}


# url_for("home") names the board too: a rule without a view (as Flask's tutorial has).
app.add_url_rule("/", endpoint="home")


@app.cli.command("seed")
def seed():
    """Create the table and 300 notes under three tags."""
    db.create_all()
    tags = ("general", "lost", "found")
    db.session.add_all(Note(tag=tags[n % 3], text=f"note {n}") for n in range(300))
    db.session.commit()


perf = FlaskPerf()
perf.init_app(app)
