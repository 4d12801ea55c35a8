"""Members sign in with Flask-Login; /account is theirs alone."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from tests.other_apps.factory.extensions import db
from tests.other_apps.factory.models import Book, Loan, Member

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        member = db.session.scalar(db.select(Member).where(Member.email == request.form["email"]))
        if member is not None and member.check_password(request.form["password"]):
            login_user(member)
            return redirect(url_for("accounts.account"))
        error = "Unknown email or wrong password."
    return render_template("login.html", error=error)


@bp.route("/logout")
def logout():
    logout_user()
    return redirect(url_for("catalog.index"))


@bp.route("/account")
@login_required
def account():
    loans = db.session.execute(db.select(Book.title).join(Loan, Loan.book_id == Book.id)
                               .where(Loan.member_id == current_user.id)).scalars().all()
    return render_template("account.html", loans=loans)
