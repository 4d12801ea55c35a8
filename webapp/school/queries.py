"""The two read queries of the write-up, both joining the unindexed join table.

Each is a single explicit JOIN (no lazy loading, so no N+1): the full scan of
``student_identifier`` is the only bottleneck the demo contains.
"""
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Class, Student, student_identifier


def roster_statement(class_id: int):
    return (
        select(Student)
        .join(student_identifier, student_identifier.c.student_id == Student.id)
        .where(student_identifier.c.class_id == class_id)
        .order_by(Student.id)
    )


def student_classes_statement(student_id: int):
    return (
        select(Class)
        .join(student_identifier, student_identifier.c.class_id == Class.id)
        .where(student_identifier.c.student_id == student_id)
        .order_by(Class.name)
    )


def class_roster(class_id: int) -> list[Student]:
    """Students enrolled in ``class_id``, by id."""
    return list(db.session.execute(roster_statement(class_id)).scalars())


def student_classes(student_id: int) -> list[Class]:
    """Classes ``student_id`` is enrolled in, by name."""
    return list(db.session.execute(student_classes_statement(student_id)).scalars())
