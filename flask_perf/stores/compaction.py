"""Giving the space of pruned rows back to the disk (SQLite stores).

Deleted rows leave free pages inside the file, and a WAL file only shrinks when a
checkpoint truncates it: pruning 4M rows grew a store from 4.1 to 7.5 GB. New SQLite
stores are created with ``auto_vacuum=INCREMENTAL`` (engines.py sets it before the
first table), so after pruning ``compact`` frees the pages VACUUM_PAGES at a time, each
step a short write transaction of its own with a pause after it, then checkpoints the
WAL with TRUNCATE. A store created before that has ``auto_vacuum=NONE``: its free pages
are reused by new rows but the file does not shrink until ``vacuum`` (``flask perf prune
--vacuum``) rewrites it once, which holds the write lock for as long as it takes (run it
when the app is stopped or quiet) and turns incremental vacuum on for good.
"""
import os
import time

from flask_perf.stores.engines import sqlite_file_missing, store_engine

VACUUM_PAGES = 1000  # ~4 MB per step: 10-15 ms on this machine
INCREMENTAL = 2  # PRAGMA auto_vacuum value


def store_bytes(engine) -> int | None:
    """The SQLite file and its WAL, in bytes (None: not a SQLite file)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return None
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix))


def _pragma(raw, sql: str) -> list:
    return raw.execute(sql).fetchall()


def compact(engine, pause_s: float = 0.01) -> bool:
    """Free the pages pruning left (incremental stores), then truncate the WAL; True when
    the file could shrink (False: not SQLite, or a store made without incremental vacuum)."""
    if engine.dialect.name != "sqlite":
        return False
    connection = engine.raw_connection()
    try:
        raw = connection.driver_connection  # autocommit: each statement its own transaction
        incremental = _pragma(raw, "PRAGMA auto_vacuum")[0][0] == INCREMENTAL
        steps = _pragma(raw, "PRAGMA freelist_count")[0][0] // VACUUM_PAGES + 2 if incremental else 0
        for _ in range(steps):  # bounded: the app's own deletes may free pages meanwhile
            if _pragma(raw, "PRAGMA freelist_count")[0][0] == 0:
                break
            began = time.perf_counter()
            # executescript steps the pragma to completion (execute frees one page)
            raw.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
            held = time.perf_counter() - began
            _pragma(raw, "PRAGMA wal_checkpoint(PASSIVE)")  # the WAL stays small meanwhile
            time.sleep(max(held, pause_s))
        _pragma(raw, "PRAGMA wal_checkpoint(TRUNCATE)")
        return incremental
    finally:
        connection.close()


def vacuum(engine) -> None:
    """Rewrite the whole file once (turning incremental vacuum on); holds the lock throughout."""
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        raw = connection.driver_connection
        raw.execute(f"PRAGMA auto_vacuum={INCREMENTAL}")
        raw.execute("VACUUM")
        _pragma(raw, "PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def vacuum_files(urls) -> list[tuple[str, int, int]]:
    """``vacuum`` each existing SQLite store of ``urls``: (file, bytes before, bytes after)."""
    done = []
    for url in urls:
        if not url.startswith("sqlite:") or sqlite_file_missing(url):
            continue
        engine = store_engine(url)
        try:
            before = store_bytes(engine)
            vacuum(engine)
            done.append((engine.url.database, before, store_bytes(engine)))
        finally:
            engine.dispose()
    return done
