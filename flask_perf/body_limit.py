"""The request-body limit: 413 before a view reads a body over ``MAX_CONTENT_LENGTH``.

``init_app`` applies PERF_MAX_CONTENT_LENGTH (1 MiB) as ``MAX_CONTENT_LENGTH`` when the
app has none, and answers 413 to a declared body over the limit before any view or
tool runs (Flask itself refuses only when a view reads the body).

A chunked body has no ``Content-Length``. Werkzeug reads a server's decoded chunks
(``wsgi.input_terminated``) up to ``MAX_CONTENT_LENGTH`` and then stops without a word,
so a view got a body cut short (the demo answered 400 to JSON that had lost its end).
Here, with a limit up to BUFFERED_LIMIT, the body is read first, one byte past the
limit: over it, 413 before any view or tool runs; within it, the app gets a body of
known length. A larger limit (an app taking uploads) is not buffered: the stream
answers 413 when a read reaches the limit with more to come.
"""
import io

from flask import abort, request
from werkzeug.exceptions import RequestEntityTooLarge

BUFFERED_LIMIT = 4 * 1024 * 1024


def init_app(app) -> None:
    """MAX_CONTENT_LENGTH from PERF_MAX_CONTENT_LENGTH unless the app set one; 413 early."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = app.config.get("PERF_MAX_CONTENT_LENGTH")
    if app.config["MAX_CONTENT_LENGTH"] is not None:
        app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversized_body)


def _refuse_oversized_body():
    environ, limit = request.environ, request.max_content_length
    if limit is None:
        return
    if not environ.get("CONTENT_LENGTH"):  # every GET; and a chunked body
        if "HTTP_TRANSFER_ENCODING" in environ:
            _chunked_body(environ, limit)
        return
    if (request.content_length or 0) > limit:
        _too_large(limit)


def _chunked_body(environ, limit: int) -> None:
    if ("chunked" not in environ["HTTP_TRANSFER_ENCODING"].lower() or not environ.get("wsgi.input_terminated")
            or "stream" in request.__dict__):  # not decoded by the server (werkzeug reads none), or read already
        return
    if limit > BUFFERED_LIMIT:
        environ["wsgi.input"] = _Capped(environ["wsgi.input"], limit)
        return
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        _too_large(limit)
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    del environ["HTTP_TRANSFER_ENCODING"]  # the chunks are decoded: werkzeug reads a plain body
    request.__dict__.pop("content_length", None)


def _too_large(limit: int):
    abort(413, description=f"The request body is larger than {limit} bytes.")


class _Capped(io.RawIOBase):
    """The server's decoded stream, read through: 413 once ``limit`` bytes are read and
    more follow (werkzeug never asks for more than the limit, so the next byte is peeked)."""

    def __init__(self, stream, limit: int):
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        self._left -= len(data)
        if self._left < 0 or (self._left == 0 and self._stream.read(1)):
            raise RequestEntityTooLarge(f"The request body is larger than {request.max_content_length} bytes.")
        buffer[:len(data)] = data
        return len(data)
