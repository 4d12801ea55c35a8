"""A bookshop in one module for the load-test tests: flask_perf attached, no locustfile.

``flask --app tests/apps/loadtest_app.py perf loadtest`` must request ``/`` and
``/books`` (GET, no URL parameter) and nothing else: ``/books/<int:book_id>`` takes
a parameter, ``/admin`` is excluded by endpoint name and ``/internal/...`` by path
prefix (``PERF_LOADTEST_EXCLUDE``), ``/orders`` accepts POST only. The instance
folder (stores, load-test results) comes from ``LOADTEST_APP_INSTANCE``. This folder
has no ``__init__.py``: Flask imports the file as the top-level module ``loadtest_app``.
"""
import os

from flask import Flask, abort, request

from flask_perf import FlaskPerf

BOOKS = {1: "Dune", 2: "Emma", 3: "Ulysses"}
INSTANCE = os.environ.get("LOADTEST_APP_INSTANCE")

app = Flask(__name__, instance_path=os.path.abspath(INSTANCE) if INSTANCE else None)
os.makedirs(app.instance_path, exist_ok=True)
app.config.update(SECRET_KEY="bookshop-test-secret-key-not-for-production",
                  PERF_MONITOR_PASSWORD="bookshop-monitor-pw-5",
                  PERF_LOADTEST_EXCLUDE=("admin", "/internal"))


@app.get("/")
def home():
    return "<h1>Bookshop</h1>"


@app.get("/books")
def books():
    return {"books": sorted(BOOKS.values())}


@app.get("/books/<int:book_id>")
def book(book_id: int):
    return {"title": BOOKS.get(book_id) or abort(404)}


@app.get("/admin")
def admin():
    return "admins only"


@app.get("/internal/health")
def health():
    return "ok"


@app.post("/orders")
def orders():
    return {"ordered": (request.get_json(silent=True) or {}).get("book_id")}, 201


FlaskPerf(app)
