"""Which columns an index on a table would serve, read from the statement itself.

For a fully scanned table, the statement's equality comparisons name the columns:
``t.col = <parameter or literal>`` filters first (they select the rows), then
``t.col = other.col`` joins (they make the index covering for the join). The hint
is the ``CREATE INDEX`` statement for those columns, in that order.
"""
import re
from dataclasses import dataclass

IDENT = r'[`"]?(\w+)[`"]?'
COLUMN = IDENT + r"\." + IDENT
VALUE = r"(?:\?|%\(\w+\)s|%s|:\w+|\$\d+|'[^']*'|-?\d+(?:\.\d+)?)"
FILTER = re.compile(COLUMN + r"\s*(?:=|IN\b|<=?|>=?)\s*\(?\s*" + VALUE, re.I)
FILTER_REVERSED = re.compile(VALUE + r"\s*=\s*" + COLUMN, re.I)
JOIN = re.compile(COLUMN + r"\s*=\s*" + COLUMN, re.I)


@dataclass(frozen=True)
class IndexHint:
    table: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"ix_hint_{self.table}_{'_'.join(self.columns)}"[:64]

    @property
    def create_sql(self) -> str:
        return f"CREATE INDEX {self.name} ON {self.table} ({', '.join(self.columns)})"


def columns_for(statement: str, table: str) -> tuple[str, ...]:
    """Filter columns of ``table`` in ``statement``, then its join columns, without repeats."""
    filters = [c for t, c in FILTER.findall(statement) if t == table]
    filters += [c for t, c in FILTER_REVERSED.findall(statement) if t == table]
    joins = []
    for left_table, left, right_table, right in JOIN.findall(statement):
        if left_table == table and right_table != table:
            joins.append(left)
        if right_table == table and left_table != table:
            joins.append(right)
    ordered = []
    for column in filters + joins:
        if column not in ordered:
            ordered.append(column)
    return tuple(ordered)


def hint_for(statement: str, table: str) -> IndexHint | None:
    columns = columns_for(statement, table)
    return IndexHint(table, columns) if columns else None
