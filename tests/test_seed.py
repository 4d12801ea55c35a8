"""``flask seed``: counts, determinism, refusal without --reset, bad options."""
import hashlib

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Class, Student, student_identifier


def _counts(app):
    with app.app_context():
        return tuple(db.session.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Student.__table__, Class.__table__, student_identifier))


def _fingerprint(app):
    with app.app_context():
        digest = hashlib.sha256()
        for table, order in ((Student.__table__, "id"), (Class.__table__, "id"),
                             (student_identifier, "student_id, class_id")):
            for row in db.session.execute(select(table).order_by(db.text(order))):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()


ARGS = ["seed", "--students", "200", "--classes", "30", "--per-student", "4", "--reset"]


def test_seed_counts_and_determinism(app, runner):
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "Seeded 200 students, 30 classes, 800 enrollments" in result.output
    assert _counts(app) == (200, 30, 800)
    first = _fingerprint(app)
    assert runner.invoke(args=ARGS).exit_code == 0
    assert _fingerprint(app) == first
    assert runner.invoke(args=ARGS + ["--seed", "43"]).exit_code == 0
    assert _fingerprint(app) != first


def test_seed_enrolls_each_student_in_distinct_classes(app, runner):
    assert runner.invoke(args=ARGS).exit_code == 0
    with app.app_context():
        dupes = db.session.execute(
            select(student_identifier.c.student_id, student_identifier.c.class_id)
            .group_by(student_identifier.c.student_id, student_identifier.c.class_id)
            .having(func.count() > 1)).all()
    assert dupes == []


def test_seed_refuses_second_copy(app, runner):
    before = _counts(app)
    result = runner.invoke(args=["seed", "--students", "10", "--classes", "5", "--per-student", "2"])
    assert result.exit_code == 1
    assert "already holds 60 students" in result.output and "--reset" in result.output
    assert _counts(app) == before


def test_seed_if_empty_skips_quietly(app, runner):
    before = _counts(app)
    result = runner.invoke(args=["seed", "--if-empty"])
    assert result.exit_code == 0 and "Seed skipped" in result.output
    assert _counts(app) == before


@pytest.mark.parametrize("args", [
    ["--students", "-5"], ["--classes", "0"], ["--students", "many"],
    ["--classes", "3", "--per-student", "4"],
])
def test_seed_bad_options_exit_2(app, runner, args):
    before = _counts(app)
    result = runner.invoke(args=["seed", "--reset", *args])
    assert result.exit_code == 2
    assert "Error" in result.output
    assert _counts(app) == before
