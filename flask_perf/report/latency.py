"""Latency per version and endpoint for ``flask perf report``, from the dashboard store's rollups.

The report used to load every ``Request`` row (19 s and 347 MB at 5M requests). Here
``dashboard_stats`` reads the summary tier (a row per endpoint, version and user) to
list the versions newest first, and a version's histograms from the day tier only
when the report shows that version (``RolledUpStats``: a mapping filled on first
access), so the cost follows the versions shown, not the months stored. Percentiles
are within the histogram's 4 %. A store whose older rows are still being rolled up
(or that no app of this release opened yet) is rolled up first, in the foreground.
"""
from collections.abc import Mapping

from sqlalchemy import inspect, select

from flask_perf.stores.backfill import Backfill, pending
from flask_perf.stores.engines import sqlite_file_missing, store_engine, store_url


class RolledUpStats(Mapping):
    """version → endpoint → EndpointStats; a version's histograms are read when first asked for."""

    def __init__(self, url: str, last_seen: dict[str, float], names: dict[int, str]):
        self.url, self.last_seen, self.names = url, last_seen, names
        self._loaded: dict[str, dict] = {}

    def __iter__(self):
        return iter(self.last_seen)

    def __len__(self) -> int:
        return len(self.last_seen)

    def __contains__(self, version) -> bool:
        return version in self.last_seen

    def __getitem__(self, version: str) -> dict:
        if version not in self.last_seen:
            raise KeyError(version)
        if version not in self._loaded:
            self._loaded[version] = self._read(version)
        return self._loaded[version]

    def newest_first(self) -> list[str]:
        return sorted(self.last_seen, key=self.last_seen.__getitem__, reverse=True)

    def _read(self, version: str) -> dict:
        from flask_perf.dashboard.overview import as_datetime
        from flask_perf.dashboard.rollups import SOURCE
        from flask_perf.report.data import EndpointStats
        from flask_perf.stores.rollup_reads import cells

        stored = "" if version == "?" else version
        engine = store_engine(self.url, immediate=False)
        try:
            with engine.connect() as conn:
                found = cells(conn, SOURCE, ("endpoint_id",), where={"version_requested": stored})
        finally:
            engine.dispose()
        seen = str(as_datetime(self.last_seen[version]))
        return {self.names[endpoint_id]: EndpointStats(self.names[endpoint_id], version, histogram=cell.hist,
                                                       errors=cell.errors(range(5, 10)), last_seen=seen)
                for (endpoint_id,), cell in found.items() if endpoint_id in self.names}


def dashboard_stats(app) -> Mapping:
    """version → endpoint → stats (``RolledUpStats``); empty without a dashboard store."""
    from flask_perf.dashboard.rollups import ENDPOINT, SOURCE, SUMMARY
    from flask_perf.stores.rollup_reads import summary

    url = store_url(app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db")
    if sqlite_file_missing(url):
        return {}
    engine = store_engine(url, immediate=False)
    try:
        if "Request" not in inspect(engine).get_table_names():
            return {}
        SOURCE.create_schema(engine)  # in place already, unless no app of this release opened it
        if pending(engine, SOURCE):
            Backfill(url, SOURCE, int(app.config.get("PERF_ROLLUP_BACKFILL_CHUNK", 50_000)), 0).run()
        with engine.connect() as conn:
            last: dict[str, float] = {}
            for (version,), (_count, _first, at) in summary(conn, SUMMARY, ("version_requested",)).items():
                last[version or "?"] = max(at, last.get(version or "?", at))
            names = dict(conn.execute(select(ENDPOINT.c.id, ENDPOINT.c.name)).all())
    except Exception:  # no dashboard store (or one it cannot read) yet
        return {}
    finally:
        engine.dispose()
    return RolledUpStats(url, last, names)
