"""The school domain of the original write-up: students, classes and the join table.

``student_identifier`` deliberately has no index and no database-level FOREIGN KEY:
on MariaDB/InnoDB a foreign key creates an index on its column by itself, which
would hide the full scan this project teaches users to find. The relationships
join explicitly instead (``foreign()`` annotations), so the ORM still works.
"""
from sqlalchemy import Column, Integer, String, Table
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from webapp.extensions import db

student_identifier = Table(
    "student_identifier",
    db.metadata,
    Column("class_id", Integer, nullable=False),
    Column("student_id", Integer, nullable=False),
)


class Student(db.Model):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(64))
    last_name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(128), unique=True)

    classes: Mapped[list["Class"]] = relationship(
        secondary=student_identifier,
        primaryjoin=lambda: Student.id == foreign(student_identifier.c.student_id),
        secondaryjoin=lambda: Class.id == foreign(student_identifier.c.class_id),
        back_populates="students",
        viewonly=True,
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Class(db.Model):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)

    students: Mapped[list[Student]] = relationship(
        secondary=student_identifier,
        primaryjoin=lambda: Class.id == foreign(student_identifier.c.class_id),
        secondaryjoin=lambda: Student.id == foreign(student_identifier.c.student_id),
        back_populates="classes",
        viewonly=True,
    )
