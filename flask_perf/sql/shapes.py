"""Statement shapes: the same query with other parameters counts once.

``normalize`` folds whitespace, literals and IN-lists so that statements differing
only in values share one shape; ``may_repeat`` rules out the usual request cheaply;
``repeats`` finds, in one request's queries, shapes
run N times or more (N+1) and identical statements with identical parameters run
more than once (duplicates).
"""
import functools
import re
from collections import Counter
from dataclasses import dataclass

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?\b")
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|:\w+|\$\d+")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)  # an app runs few distinct statements: regexes once each
def normalize(statement: str) -> str:
    text = _STRING.sub("?", statement or "")
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _IN_LIST.sub("(?)", text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Repeat:
    kind: str  # "n+1" or "duplicate"
    shape: str
    count: int


def may_repeat(queries, threshold: int) -> bool:
    """False for the usual request (a few distinct statements): nothing to normalise."""
    return len(queries) >= 2 and (len(queries) >= threshold or len({q.statement for q in queries}) < len(queries))


def repeats(queries, threshold: int) -> list[Repeat]:
    """N+1 shapes (run >= threshold times) and duplicates (same statement and parameters)."""
    if not may_repeat(queries, threshold):
        return []
    shapes = Counter(normalize(q.statement) for q in queries)
    found = [Repeat("n+1", shape, n) for shape, n in shapes.items() if n >= threshold]
    exact = Counter((q.statement, repr(q.parameters)) for q in queries)
    n_plus_one = {r.shape for r in found}
    for (statement, _params), n in exact.items():
        shape = normalize(statement)
        if n > 1 and shape not in n_plus_one:
            found.append(Repeat("duplicate", shape, n))
    return found
