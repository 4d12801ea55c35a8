"""The request-body limit: 413 before a view reads a body over ``MAX_CONTENT_LENGTH``.

``init_app`` applies PERF_MAX_CONTENT_LENGTH (1 MiB) as ``MAX_CONTENT_LENGTH`` when the
app has none, and answers 413 to a declared body over the limit before any view or
tool runs (Flask itself refuses only when a view reads the body).

A chunked body has no ``Content-Length``. Werkzeug reads a server's decoded chunks
(``wsgi.input_terminated``) up to ``MAX_CONTENT_LENGTH`` and then stops without a word,
so a view got a body cut short (the demo answered 400 to JSON that had lost its end).
Here, with a limit up to BUFFERED_LIMIT, the body is read first, one byte past the
limit: over it, 413 before any view or tool runs; within it, the app gets a body of
known length (a client gone mid-body: 400). A larger limit (an app taking uploads) is
not buffered: the stream answers 413 when a read reaches the limit with more to come.
``Transfer-Encoding: gzip, chunked`` keeps ``gzip`` for the app.
"""
import io

from flask import abort, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

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
    if "HTTP_TRANSFER_ENCODING" in environ:  # a Content-Length beside it is ignored, as werkzeug does
        codings = [c.strip().lower() for c in environ["HTTP_TRANSFER_ENCODING"].split(",")]
        if "chunked" in codings:
            _chunked_body(environ, limit, [c for c in codings if c and c != "chunked"])
            return
    if environ.get("CONTENT_LENGTH") and (request.content_length or 0) > limit:
        _too_large(limit)


def _chunked_body(environ, limit: int, other_codings: list[str]) -> None:
    if (not environ.get("wsgi.input_terminated") or "stream" in request.__dict__
            or request.routing_exception is not None):
        return  # not decoded by the server (werkzeug reads none), read already, or a 404/405 anyway
    if limit > BUFFERED_LIMIT:
        environ["wsgi.input"] = _Capped(environ["wsgi.input"], limit)
        return
    body = _read_up_to(environ["wsgi.input"], limit + 1)
    if len(body) > limit:
        _too_large(limit)
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    if other_codings:  # gzip, chunked: the chunks are decoded, the gzip is the app's
        environ["HTTP_TRANSFER_ENCODING"] = ", ".join(other_codings)
    else:
        del environ["HTTP_TRANSFER_ENCODING"]  # werkzeug reads a plain body of that length
    request.__dict__.pop("content_length", None)


def _read_up_to(stream, size: int) -> bytes:
    """At most ``size`` bytes of ``stream``: a read may return less than asked before the end."""
    parts, got = [], 0
    try:
        while got < size and (data := stream.read(size - got)):
            parts.append(data)
            got += len(data)
    except Exception as exc:  # the client left mid-body (OSError), or a malformed chunk (gunicorn's ParseException)
        raise ClientDisconnected() from exc
    return b"".join(parts)


def _too_large(limit: int):
    abort(413, description=f"The request body is larger than {limit} bytes.")


class _Capped(io.RawIOBase):
    """The server's decoded stream, read through: 413 once ``limit`` bytes are read and
    more follow (werkzeug never asks for more than the limit, so the next byte is peeked)."""

    def __init__(self, stream, limit: int):
        self._stream, self._left, self._limit = stream, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        self._left -= len(data)
        if self._left < 0 or (self._left == 0 and self._stream.read(1)):
            raise RequestEntityTooLarge(f"The request body is larger than {self._limit} bytes.")
        buffer[:len(data)] = data
        return len(data)
