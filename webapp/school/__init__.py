"""The school blueprint: /, /roster and /stats (JSON), /my_class (HTML)."""
from webapp.school import stats  # noqa: F401  (registers /stats on bp)
from webapp.school.routes import bp

__all__ = ["bp"]
