"""Deterministic sample data: students, classes and enrollments, inserted in bulk.

The same ``seed`` always yields the same rows, so timings and plans compare across
machines and runs. Inserts go through Core ``insert()`` with lists of dicts, which
SQLAlchemy 2 sends as multi-row INSERTs on SQLite and MariaDB alike.
"""
import random
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from webapp.extensions import db
from webapp.models import Class, Student, student_identifier

FIRST_NAMES = (
    "Ada Alan Barbara Brian Claude Dennis Donald Edsger Frances Grace Guido Hedy Ivan Jean "
    "John Ken Leslie Linus Margaret Niklaus Radia Richard Robin Shafi Sophie Tim Tony Ward "
    "Yukihiro Zhang Anita Bjarne Carol Dana Emil Fatima Gita Hana Ines Jamal Kofi Lena Mira "
    "Nadia Omar Priya Quinn Rosa Sven Tariq"
).split()
LAST_NAMES = (
    "Lovelace Turing Liskov Kernighan Shannon Ritchie Knuth Dijkstra Allen Hopper Rossum "
    "Lamarr Sutherland Sammet McCarthy Thompson Lamport Torvalds Hamilton Wirth Perlman "
    "Stallman Milner Goldwasser Wilson Berners-Lee Hoare Cunningham Matsumoto Wei Borg "
    "Stroustrup Shaw Scott Post Haddad Rao Novak Costa Idowu Mensah Fischer Kaur Petrova "
    "Haddon Iyer Quiroga Moreno Lind Aziz"
).split()
SUBJECTS = (
    "Algebra Biology Chemistry Databases Economics French Geometry History Informatics "
    "Journalism Kinesiology Latin Music Networks Optics Physics Rhetoric Statistics "
    "Theatre Urbanism"
).split()
CHUNK = 10_000


@dataclass(frozen=True)
class SeedPlan:
    students: int = 10_000
    classes: int = 1_000
    per_student: int = 10
    seed: int = 42

    @property
    def total_rows(self) -> int:
        return self.students + self.classes + self.students * self.per_student


class AlreadySeeded(Exception):
    """The database already holds students; seeding again would duplicate data."""


def student_count() -> int:
    return db.session.execute(select(func.count()).select_from(Student)).scalar_one()


def loadtest_env(app) -> dict:
    """How many classes and students the demo's locustfile may draw ids from."""
    classes, students = (db.session.execute(select(func.count()).select_from(model)).scalar_one()
                         for model in (Class, Student))
    if not classes or not students:
        raise LookupError("the database holds no data: run `flask --app wsgi seed` first")
    return {"LOADTEST_CLASSES": classes, "LOADTEST_STUDENTS": students}


def seed(plan: SeedPlan, reset: bool = False, progress=lambda n: None) -> SeedPlan:
    """Create the schema and insert ``plan``'s rows; ``progress(n)`` gets inserted counts."""
    if plan.per_student > plan.classes:
        raise ValueError("per_student cannot exceed the number of classes")
    if reset:
        db.drop_all()
    db.create_all()
    if (existing := student_count()):
        raise AlreadySeeded(f"the database already holds {existing} students")
    rng = random.Random(plan.seed)
    with db.engine.begin() as conn:
        for rows in _chunks(_class_rows(plan)):
            conn.execute(insert(Class), rows)
            progress(len(rows))
        for rows in _chunks(_student_rows(plan, rng)):
            conn.execute(insert(Student), rows)
            progress(len(rows))
        for rows in _chunks(_enrollment_rows(plan, rng)):
            conn.execute(insert(student_identifier), rows)
            progress(len(rows))
    return plan


def _class_rows(plan: SeedPlan):
    for i in range(plan.classes):
        subject = SUBJECTS[i % len(SUBJECTS)]
        yield {"id": i + 1, "name": f"{subject} {101 + i // len(SUBJECTS)}"}


def _student_rows(plan: SeedPlan, rng: random.Random):
    for i in range(1, plan.students + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{i}@school.example".lower()
        yield {"id": i, "first_name": first, "last_name": last, "email": email}


def _enrollment_rows(plan: SeedPlan, rng: random.Random):
    class_ids = range(1, plan.classes + 1)
    for student_id in range(1, plan.students + 1):
        for class_id in sorted(rng.sample(class_ids, plan.per_student)):
            yield {"class_id": class_id, "student_id": student_id}


def _chunks(rows):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
