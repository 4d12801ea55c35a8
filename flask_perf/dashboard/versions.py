"""FMD's version, user and IP pages, read from the rollups (rows of patches.py).

FMD 5.1 groups every ``Request`` row of an endpoint by version, user or IP, pulls the
durations into numpy and sends 100 percentiles per version (endpoint versions and
users took 5-6 s at 1M requests, multi_version 19 s, version × IP 2.6 s). Here: the
summary tier for hits and first requests, the day tier for distributions (10
representative values per box plot, medians within the histogram's 4 %), the IP tier
for the IP tab. Same JSON shapes as FMD's.

``get_versions`` also lists the versions oldest first, as its docstring always said:
FMD ordered them newest first and its pages select the last ten of the list, so the
versions page showed the ten *oldest* versions by default; now it shows the newest.
"""
from flask_monitoringdashboard.core.colors import get_color
from sqlalchemy import func, select

from flask_perf.dashboard.overview import (_NONE, REPRESENTATIVE, as_datetime, endpoint_ids,
                                           shown)
from flask_perf.dashboard.rollups import BY_IP, SOURCE, SUMMARY
from flask_perf.stores.backfill import pending
from flask_perf.stores.rollup_reads import cells, summary, tier_cells

VERSION, USER, IP = "version_requested", "group_by", "ip"


def _stored(values, dim=VERSION) -> list:
    return [SOURCE.stored(dim, value) for value in values]


def first_requests(session, endpoint_id=None) -> dict:
    """version → first request (naive UTC), of one endpoint or of all."""
    where = {"endpoint_id": endpoint_id} if endpoint_id else {}
    rows = summary(session.connection(), SUMMARY, (VERSION,), where)
    return {shown(version): as_datetime(first) for (version,), (_n, first, _last) in rows.items()}


def get_versions(session, endpoint_id=None, limit=None):
    """FMD's ``database.versions.get_versions``: (version, first request), oldest first;
    with ``limit``, the newest ``limit`` versions."""
    ordered = sorted(first_requests(session, endpoint_id).items(), key=lambda item: item[1])
    return ordered[-limit:] if limit else ordered


def get_endpoint_versions(session, endpoint_id, versions):
    found = cells(session.connection(), SOURCE, (VERSION,),
                  where={"endpoint_id": endpoint_id, VERSION: _stored(versions)})
    firsts = first_requests(session, endpoint_id)
    return [{"version": v, "date": firsts.get(v, 0), "color": get_color(v),
             "values": _values(found.get((SOURCE.stored(VERSION, v),)))} for v in versions]


def get_endpoint_users(session, endpoint_id, users):
    found = cells(session.connection(), SOURCE, (USER,),
                  where={"endpoint_id": endpoint_id, USER: _stored(users, USER)})
    firsts = first_requests(session, endpoint_id)  # FMD looks users up among versions: kept
    return [{"user": u, "date": firsts.get(u, 0), "color": get_color(u),
             "values": _values(found.get((SOURCE.stored(USER, u),)))} for u in users]


def _values(cell):
    return cell.hist.representative(REPRESENTATIVE) if cell is not None else 0


def get_version_user_data(session, endpoint_id, versions, users):
    """FMD's ``get_version_user_data``: the median per (user, version)."""
    found = cells(session.connection(), SOURCE, (USER, VERSION),
                  where={"endpoint_id": endpoint_id, USER: _stored(users, USER), VERSION: _stored(versions)})
    return _by_version(session, endpoint_id, versions, users, USER, found)


def get_version_ip_data(session, endpoint_id, versions, ips):
    """FMD's ``get_version_ip_data``: the median per (IP, version), from the IP tier (FMD's
    own while an older store's rows are rolled up: the tier may be the one being filled)."""
    if pending(session.connection(), SOURCE):
        from flask_monitoringdashboard.controllers.versions import get_version_ip_data as fmd

        return fmd(session, endpoint_id, versions, ips)
    found = tier_cells(session.connection(), BY_IP, (IP, VERSION),
                       {"endpoint_id": endpoint_id, IP: _stored(ips, IP), VERSION: _stored(versions)})
    return _by_version(session, endpoint_id, versions, ips, IP, found)


def _by_version(session, endpoint_id, versions, rows, dim, found) -> dict:
    firsts = first_requests(session, endpoint_id)
    return {"versions": [{"version": v, "date": firsts.get(v, 0)} for v in versions],
            "data": [[_median(found.get((SOURCE.stored(dim, r), SOURCE.stored(VERSION, v)), _NONE))
                      for v in versions] for r in rows]}


def get_ips(session, endpoint_id, limit=None):
    """FMD's ``database.endpoint.get_ips``: (IP, hits) of an endpoint, most first."""
    if pending(session.connection(), SOURCE):
        from flask_monitoringdashboard.database.endpoint import get_ips as fmd

        return fmd(session, endpoint_id, limit)
    hits = session.execute(select(BY_IP.c.ip, func.sum(BY_IP.c.count)).where(BY_IP.c.endpoint_id == endpoint_id)
                           .group_by(BY_IP.c.ip)).all()
    ordered = sorted(((shown(ip), int(n)) for ip, n in hits), key=lambda pair: -pair[1])
    return ordered[:limit] if limit else ordered


def _median(cell):
    return cell.hist.median() if cell.count else 0


def get_multi_version_data(session, endpoints, versions):
    """FMD's ``get_multi_version_data``: each endpoint's share (%) of each version's hits."""
    ids = endpoint_ids(session, endpoints)
    counts = summary(session.connection(), SUMMARY, (VERSION, "endpoint_id"), {VERSION: _stored(versions)})
    totals: dict = {}
    for (version, _endpoint), (count, _first, _last) in counts.items():
        totals[version] = totals.get(version, 0) + count
    stored = _stored(versions)
    return [[counts.get((v, ids.get(name)), (0,))[0] * 100 / max(1, totals.get(v, 0)) for v in stored]
            for name in endpoints]


def get_users(session, endpoint_id, limit=None):
    """FMD's ``database.endpoint.get_users``: (user, hits) of an endpoint, most first."""
    rows = summary(session.connection(), SUMMARY, (USER,), {"endpoint_id": endpoint_id})
    ordered = sorted(((shown(user), n) for (user,), (n, _first, _last) in rows.items()),
                     key=lambda pair: -pair[1])
    return ordered[:limit] if limit else ordered
