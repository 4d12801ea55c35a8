"""HTTP client of the grading service: one pooled ``requests.Session`` per app.

Reads GRADING_SERVICE_URL and GRADING_TIMEOUT_S (connect and read timeout of each
call) from ``app.config`` when first used. Whatever keeps a grade from arriving —
no answer in time, nothing listening, an error status, a malformed answer — raises
:class:`GradingUnavailable` with a message fit for an API response; ``timeout``
tells a slow service (504) from a broken or absent one (502).
"""
from urllib.parse import urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

POOL_SIZE = 10  # connections kept per process (one per concurrent caller is enough)


class GradingUnavailable(Exception):
    def __init__(self, message: str, timeout: bool = False):
        super().__init__(message)
        self.message = message
        self.timeout = timeout


class GradingClient:
    def __init__(self, base_url: str, timeout_s: float):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        parts = urlsplit(self.base_url)
        self.where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")  # no credentials
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def grade(self, student_id: int) -> int:
        """The service's grade for ``student_id``; raises GradingUnavailable."""
        try:
            response = self.session.get(f"{self.base_url}/grades/{student_id}",
                                        timeout=(self.timeout_s, self.timeout_s))
        except requests.Timeout:
            raise GradingUnavailable(f"the grading service at {self.where} did not answer within "
                                     f"{self.timeout_s:g} s (student {student_id})", timeout=True) from None
        except requests.ConnectionError:
            raise GradingUnavailable(f"the grading service at {self.where} is unreachable "
                                     "(connection refused or reset)") from None
        except requests.RequestException as exc:
            raise GradingUnavailable(f"the grading service at {self.where} could not be called "
                                     f"({type(exc).__name__}; check GRADING_SERVICE_URL)") from None
        if response.status_code != 200:
            raise GradingUnavailable(f"the grading service at {self.where} answered "
                                     f"{response.status_code} for student {student_id}")
        try:
            grade = response.json()["grade"]
        except (ValueError, KeyError, TypeError):
            grade = None
        if not isinstance(grade, int | float) or isinstance(grade, bool):
            raise GradingUnavailable(f"the grading service at {self.where} sent a malformed answer "
                                     f"for student {student_id}")
        return grade

    def close(self) -> None:
        self.session.close()


def grading_client(app=None) -> GradingClient:
    """This app's client, created from its config on first use."""
    app = app or current_app._get_current_object()
    client = app.extensions.get("flask_perf_grading")
    if client is None:
        client = GradingClient(app.config["GRADING_SERVICE_URL"], app.config["GRADING_TIMEOUT_S"])
        app.extensions["flask_perf_grading"] = client
    return client
