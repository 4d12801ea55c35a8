"""The join table stays unindexed on both backends, so the demo's full scan is real."""
from sqlalchemy import inspect, text

from webapp.extensions import db

MY_CLASS_SQL = ("SELECT classes.id, classes.name FROM classes JOIN student_identifier "
                "ON student_identifier.class_id = classes.id "
                "WHERE student_identifier.student_id = :sid ORDER BY classes.name")


def test_join_table_has_no_index_and_no_foreign_key(app):
    with app.app_context():
        inspector = inspect(db.engine)
        assert inspector.get_indexes("student_identifier") == []
        assert inspector.get_foreign_keys("student_identifier") == []
        assert inspector.get_pk_constraint("student_identifier")["constrained_columns"] == []


def test_my_class_query_scans_the_join_table(app, backend):
    with app.app_context():
        if backend[0] == "sqlite":
            plan = db.session.execute(text("EXPLAIN QUERY PLAN " + MY_CLASS_SQL), {"sid": 1}).all()
            details = [row[-1] for row in plan]
            assert "SCAN student_identifier" in details
        else:
            rows = db.session.execute(text("EXPLAIN " + MY_CLASS_SQL), {"sid": 1}).mappings().all()
            by_table = {row["table"]: row for row in rows}
            assert by_table["student_identifier"]["type"] == "ALL"
            assert by_table["student_identifier"]["key"] is None
