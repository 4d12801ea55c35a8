"""The public pages: the authors, and one author's books."""
from flask import Blueprint, render_template

from tests.other_apps.factory.extensions import db
from tests.other_apps.factory.models import Author, Book

bp = Blueprint("catalog", __name__)


@bp.route("/")
def index():
    authors = db.session.scalars(db.select(Author).order_by(Author.name)).all()
    return render_template("authors.html", authors=authors)


@bp.route("/authors/<int:author_id>")
def author(author_id: int):
    author = db.get_or_404(Author, author_id)
    books = db.session.scalars(db.select(Book).where(Book.author_id == author_id)).all()
    return render_template("author.html", author=author, books=books)
