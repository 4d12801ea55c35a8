"""Extension objects, created without an app and bound in ``create_app``."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from flask_perf import FlaskPerf
from webapp.replica import RoutingSession


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})  # reads may use the replica
perf = FlaskPerf()  # attached last in create_app, after every blueprint
