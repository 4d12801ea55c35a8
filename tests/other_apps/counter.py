"""A one-route visit counter built by ``make_app(instance)``: two of them live in one
process in the tests, each with its own instance folder and stores."""
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_perf import FlaskPerf

MONITOR_PASSWORD = "counter-monitor-pw-4"


def make_app(instance: str, name: str) -> Flask:
    app = Flask(name, instance_path=os.path.abspath(instance), root_path=os.path.dirname(__file__))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SECRET_KEY=f"{name}-test-secret-key", SQLALCHEMY_DATABASE_URI="sqlite:///counter.db",
                      PERF_MONITOR_PASSWORD=MONITOR_PASSWORD, PERF_PROFILE="bare",
                      PERF_SLOW_QUERY_ENABLED=True, PERF_SLOW_QUERY_MS=0, PERF_PROFILER_ENABLED=True)
    db = SQLAlchemy(app)

    class Visit(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        page = db.Column(db.String(40), nullable=False)

    @app.route("/<page>")
    def visit(page: str):
        db.session.add(Visit(page=page))
        db.session.commit()
        return {"app": name, "visits": db.session.scalar(db.select(db.func.count()).where(Visit.page == page))}

    with app.app_context():
        db.create_all()
    FlaskPerf().init_app(app)
    return app
