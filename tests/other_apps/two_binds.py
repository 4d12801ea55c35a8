"""A shop whose orders live in the default database and whose page views live in a
second one (``SQLALCHEMY_BINDS["analytics"]``). Built by ``create_app``.
"""
import os

from flask import Flask, render_template_string, request
from flask_sqlalchemy import SQLAlchemy

from flask_perf import FlaskPerf
from tests.other_apps import instance_path

MONITOR_PASSWORD = "shop-monitor-pw-8"
db = SQLAlchemy()
perf = FlaskPerf()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>{{ category }}</h1><p>{{ views }} views of this page</p>
<ul>{% for product in products %}<li>{{ product.name }}</li>{% endfor %}</ul></body></html>"""


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    category = db.Column(db.String(20), nullable=False)  # no index
    name = db.Column(db.String(80), nullable=False)


class PageView(db.Model):
    __bind_key__ = "analytics"
    id = db.Column(db.Integer, primary_key=True)
    path = db.Column(db.String(200), nullable=False)  # no index


def create_app(instance: str | None = None, **config) -> Flask:
    app = Flask(__name__, instance_path=instance_path(instance))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SECRET_KEY="shop-test-secret-key-not-for-production",
                      SQLALCHEMY_DATABASE_URI="sqlite:///shop.db",
                      SQLALCHEMY_BINDS={"analytics": "sqlite:///analytics.db"},
                      PERF_MONITOR_PASSWORD=MONITOR_PASSWORD)
    app.config.update(config)
    db.init_app(app)
    app.add_url_rule("/", view_func=category)
    app.add_url_rule("/views", view_func=views)
    app.cli.command("seed")(seed)
    perf.init_app(app)
    return app


def category():
    name = request.args.get("category", "tools")
    db.session.add(PageView(path=request.full_path))
    db.session.commit()
    products = db.session.scalars(db.select(Product).where(Product.category == name)).all()
    count = db.session.scalar(db.select(db.func.count(PageView.id)).where(PageView.path == request.full_path))
    return render_template_string(PAGE, category=name, products=products, views=count)


def views():
    rows = db.session.execute(db.select(PageView.path, db.func.count(PageView.id)).group_by(PageView.path))
    return {path: count for path, count in rows}


def seed():
    """Create both databases' tables and 200 products."""
    db.create_all()
    db.session.add_all(Product(category=("tools", "toys")[n % 2], name=f"product {n}") for n in range(200))
    db.session.commit()
