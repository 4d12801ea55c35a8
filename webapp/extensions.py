"""Extension objects, created without an app and bound in ``create_app``."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from webapp.monitoring.toolbar import AppPagesToolbar


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
toolbar = AppPagesToolbar()
