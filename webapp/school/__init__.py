"""The school blueprint: /, /roster (JSON) and /my_class (HTML)."""
from webapp.school.routes import bp

__all__ = ["bp"]
