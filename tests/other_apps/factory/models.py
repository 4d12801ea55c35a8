"""Authors, books, members and loans. ``book.author_id`` has no index: its pages scan."""
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from tests.other_apps.factory.extensions import db, login_manager


class Author(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)


class Book(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(120), nullable=False)
    author_id = db.Column(db.Integer, nullable=False)  # no index, no database-level foreign key


class Member(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), unique=True, nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Loan(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    book_id = db.Column(db.Integer, nullable=False)
    member_id = db.Column(db.Integer, nullable=False)


@login_manager.user_loader
def load_member(member_id: str):
    return db.session.get(Member, int(member_id))
