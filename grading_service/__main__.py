"""``python -m grading_service [--host H] [--port P] [--latency-ms MS] [--jitter-ms MS]``."""
import argparse
import sys

from grading_service.server import DEFAULT_PORT, GradingSettings, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading_service",
                                     description="A slow external grading API, for /class_report.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="time each answer takes (default: %(default)s)")
    parser.add_argument("--jitter-ms", type=float, default=0.0,
                        help="up to this much more per request, drawn uniformly (default: 0)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or args.jitter_ms < 0:
        parser.error("--latency-ms and --jitter-ms must not be negative")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    try:
        serve(args.host, args.port, GradingSettings(args.latency_ms, args.jitter_ms, args.access_log))
    except OSError as exc:
        print(f"grading service: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
