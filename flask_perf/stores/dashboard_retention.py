"""What Flask-MonitoringDashboard's store keeps besides its age window: a sample of call
stacks, and only the endpoints something still refers to.

- Level 3 stores about 17 ``StackLine`` rows for each profiled request: most of the
  store. The profiler pages show the newest 100 per endpoint, so ``trim_stacks`` keeps
  the stacks of the newest PERF_STACKS_PER_VERSION profiled requests (default 200) per
  (endpoint, version) and deletes the others' (the requests stay, unprofiled); newest
  by id, read from ``fmd_profiled`` (dashboard/profiled.py) once it is complete.
- An ``Endpoint`` row of a route that is gone, whose requests were all pruned, stays
  on the overview forever. ``drop_orphan_endpoints`` deletes the rows no request
  refers to that were neither added nor requested within the window, except the
  app's own views (FMD keeps their ids in memory while it runs).
"""
from datetime import datetime, timedelta, timezone

from sqlalchemy import inspect

from flask_perf.stores.pruning import BACKFILL, SQLITE_DATETIME, Chunks

PROFILED = "fmd_profiled"  # dashboard/profiled.py


def trim_stacks(chunks: Chunks, keep: int) -> int:
    """Delete the stack lines of profiled requests beyond the newest ``keep`` per
    (endpoint, version); the stack lines deleted."""
    q = chunks.quote
    request, line = q("Request"), q("StackLine")
    if _profiled_ready(chunks):  # dashboard/profiled.py: one row per profiled request, indexed
        crowded = chunks.select(f"SELECT endpoint_id, version_requested FROM {q(PROFILED)} "
                                "GROUP BY endpoint_id, version_requested HAVING COUNT(*) > :keep", keep=keep)
        trimmed = 0
        for endpoint_id, version in crowded:
            version_match = "version_requested IS NULL" if version is None else "version_requested = :version"
            ids = [row[0] for row in chunks.select(
                f"SELECT request_id FROM {q(PROFILED)} WHERE endpoint_id = :endpoint AND {version_match} "
                "ORDER BY request_id DESC", endpoint=endpoint_id, version=version)[keep:]]
            trimmed += chunks.delete("StackLine", ids, key="request_id")  # its trigger drops their rows
        return trimmed
    crowded = chunks.select(  # one pass over StackLine's primary key
        f"SELECT r.endpoint_id, r.version_requested FROM {request} r JOIN "
        f"(SELECT DISTINCT request_id FROM {line}) s ON s.request_id = r.id "
        f"GROUP BY r.endpoint_id, r.version_requested HAVING COUNT(*) > :keep", keep=keep)
    trimmed = 0
    for endpoint_id, version in crowded:
        version_match = "r.version_requested IS NULL" if version is None else "r.version_requested = :version"
        ids = [row[0] for row in chunks.select(
            f"SELECT r.id FROM {request} r WHERE r.endpoint_id = :endpoint AND {version_match} "
            f"AND EXISTS (SELECT 1 FROM {line} s WHERE s.request_id = r.id) "
            f"ORDER BY r.time_requested DESC, r.id DESC", endpoint=endpoint_id, version=version)[keep:]]
        trimmed += chunks.delete("StackLine", ids, key="request_id")
    return trimmed


def _profiled_ready(chunks: Chunks) -> bool:
    tables = inspect(chunks.reader).get_table_names()
    if PROFILED not in tables or BACKFILL not in tables:
        return False
    mark = chunks.select(f"SELECT done_id, high_id FROM {chunks.quote(BACKFILL)} WHERE source = :s", s=PROFILED)
    return bool(mark) and mark[0][0] >= mark[0][1]


def drop_orphan_endpoints(chunks: Chunks, days: float, keep_names=()) -> int:
    """Delete Endpoint rows no request refers to, untouched for ``days``, not in ``keep_names``."""
    q = chunks.quote
    cutoff = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
    if chunks.reader.dialect.name == "sqlite":
        cutoff = cutoff.strftime(SQLITE_DATETIME)
    rows = chunks.select(f"SELECT e.id, e.name FROM {q('Endpoint')} e WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {q('Request')} r WHERE r.endpoint_id = e.id) "
                         f"AND COALESCE(e.last_requested, e.time_added) < :cutoff", cutoff=cutoff)
    return chunks.delete("Endpoint", [ident for ident, name in rows if name not in keep_names])
