"""flask-profiler's page script (``main.js``), served with stored values escaped.

flask-profiler 1.8.1 builds its tables' HTML by concatenating stored request data:
``"<span data-json='" + JSON.stringify(context) + "'>"`` puts every header, query
and form value of every recorded request into an attribute unescaped, so a request
carrying ``'><img src=x onerror=...>`` in any header ran script in the admin's browser
when the Filtering tab opened (stored XSS from anonymous traffic). The method column
was concatenated the same way in both tables. The request name is already escaped
upstream (``innerText`` → ``innerHTML``) and JSONView escapes what the detail view shows.

``corrected_main_js`` reads the installed file and replaces each of those exact
upstream snippets with an escaped one; if one is missing or occurs a different
number of times (an upgrade changed the file), the app refuses to start instead of
serving the unescaped original.
"""
import pathlib
import posixpath

from flask import Response
from flask_profiler import flask_profiler as fp

from flask_perf.config import ConfigError

UPSTREAM = pathlib.Path(fp.__file__).parent / "static" / "dist" / "js" / "main.js"
ESCAPE = ('var flaskPerfEscape=function(s){return String(s).replace(/[&<>"\'`=]/g,function(c){'
          'return"&#"+c.charCodeAt(0)+";"})};\n')
# (upstream text, replacement, times it occurs upstream)
FIXES = (
    ("\"<span data-json='\"+JSON.stringify(a.context)+\"'>\"",
     "\"<span data-json='\"+flaskPerfEscape(JSON.stringify(a.context))+\"'>\"", 1),
    ("'<span class=\"row--method '+a.method.toLowerCase()+'\">'+a.method+\"</span>\"",
     "'<span class=\"row--method '+flaskPerfEscape(a.method.toLowerCase())+'\">'"
     "+flaskPerfEscape(a.method)+\"</span>\"", 2),
)


def corrected_main_js(source: str | None = None) -> str:
    """flask-profiler's main.js with every stored value escaped before it becomes HTML."""
    source = UPSTREAM.read_text() if source is None else source
    for upstream, replacement, times in FIXES:
        found = source.count(upstream)
        if found != times:
            raise ConfigError(f"flask-profiler's main.js changed ({upstream!r} found {found} times, "
                               f"expected {times}): review it and update flask_perf/profiler/assets.py")
        source = source.replace(upstream, replacement)
    return ESCAPE + source


def serving_escaped_main_js(static_view, _app):
    """flask-profiler's static view serving the corrected main.js (a row of patches.py)."""
    script = corrected_main_js()

    def static(filename):
        if posixpath.normpath(filename).lstrip("/") == "js/main.js":  # also ./js//main.js
            return Response(script, mimetype="text/javascript",
                            headers={"Cache-Control": "no-cache"})
        return static_view(filename=filename)

    return static
