"""Which tool pages the running app offers, for the home page and ``serve``."""


def tool_urls(app) -> dict[str, str | None]:
    """Tool name → browsable path (None when the tool has no page of its own)."""
    return dict(app.extensions["flask_perf"].tools)
