"""JSON for the library's other clients."""
from flask import Blueprint, abort, request

from tests.other_apps.factory.extensions import db
from tests.other_apps.factory.models import Book, Loan

bp = Blueprint("api", __name__)


@bp.route("/books")
def books():
    author_id = request.args.get("author_id", type=int)
    if author_id is None:
        abort(400, "author_id is required")
    rows = db.session.scalars(db.select(Book).where(Book.author_id == author_id)).all()
    return {"books": [{"id": b.id, "title": b.title} for b in rows]}


@bp.route("/stats")
def stats():
    return {"books": db.session.scalar(db.select(db.func.count(Book.id))),
            "loans": db.session.scalar(db.select(db.func.count(Loan.id)))}
