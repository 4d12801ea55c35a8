"""``flask report``: one place for what every tool measured, per endpoint and version.

``data`` reads the stores (never request-time objects); ``render`` prints the
terminal report and writes the self-contained HTML page; ``cli`` holds the command
and the regression gate.
"""
