"""``flask seed``: enough rows for a plan worth reading."""
import click
from flask.cli import with_appcontext

from tests.other_apps.factory.extensions import db
from tests.other_apps.factory.models import Author, Book, Loan, Member

MEMBER_EMAIL, MEMBER_PASSWORD = "reader@example.org", "reader-pw-1"


@click.command("seed")
@with_appcontext
def seed_command():
    """Add 20 authors with 25 books each, one member and their loans."""
    db.session.add_all(Author(id=a, name=f"Author {a:02d}") for a in range(1, 21))
    db.session.add_all(Book(title=f"Book {a}-{n}", author_id=a) for a in range(1, 21) for n in range(25))
    member = Member(email=MEMBER_EMAIL)
    member.set_password(MEMBER_PASSWORD)
    db.session.add(member)
    db.session.flush()
    db.session.add_all(Loan(book_id=b, member_id=member.id) for b in (3, 30, 300))
    db.session.commit()
    click.echo("seeded the library")
