"""The API calls behind every /dashboard and /flask-profile page, as their JavaScript sends them.

``page_calls(client)`` discovers the endpoints and versions through the API itself
(as the pages do: the newest ten versions), then lists ``Call(page, method, path,
body)`` for the overview, hourly load, daily requests, multi_version, api_performance,
endpoint hits and exceptions pages, every tab of the busiest endpoint's page
(versions, users, IP, profiler, grouped profiler, outliers, status codes), and the four
calls of /flask-profile over a 90-day range. ``login`` and ``login_profiler`` sign a
client in first, as a browser is before it sends these. Used by benchmarks/history.py
(timed) and tests/test_store_indexes.py (their SQL EXPLAINed).
"""
import base64
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Call:
    page: str
    method: str
    path: str
    body: dict | None = None
    auth: bool = False  # /flask-profile: basic auth


def login(client, user: str, password: str) -> None:
    """Log ``client`` in to /dashboard (form with its CSRF token)."""
    form = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/dashboard/login", data={"name": user, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def login_profiler(client, user: str, password: str) -> None:
    """Prove ``client``'s basic auth to /flask-profile once (scrypt), as a browser's first
    call does: its session remembers it (flask_perf/sessions.py), so the timed calls
    measure the pages, not the password check."""
    now = time.time()
    call = Call("login", "GET", f"/flask-profile/api/measurements/methodDistribution/?startedAt={now - 60:.0f}"
                                f"&endedAt={now:.0f}", auth=True)
    response = send(client, call, user, password)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def send(client, call: Call, user: str = "", password: str = ""):
    headers = {"Origin": "http://localhost"}
    if call.auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if call.method == "POST":
        return client.post(call.path, json=call.body, headers=headers)
    return client.get(call.path, headers=headers)


def page_calls(client, today: date | None = None, days: int = 90) -> list[Call]:
    today = today or date.today()
    week, fortnight = today - timedelta(days=7), today - timedelta(days=14)
    api = "/dashboard/api"
    hits = client.get(f"{api}/endpoints_hits").get_json()
    endpoints = client.get(f"{api}/endpoints").get_json()
    views = client.application.view_functions  # a removed route's Endpoint row is refused (400)
    names = [e["name"] for e in endpoints if e["name"] in views]
    busiest = next(e for e in endpoints if e["name"] == hits[0]["name"]) if hits else endpoints[0]
    ident = busiest["id"]
    # oldest first (versions.py): the pages select the last ten, the newest
    versions = [v["version"] for v in client.get(f"{api}/versions").get_json()][-10:]
    own = [v["version"] for v in client.get(f"{api}/versions/{ident}").get_json()][-10:]
    users = [u["user"] for u in client.get(f"{api}/users/{ident}").get_json()][:10]
    ips = [i["ip"] for i in client.get(f"{api}/ip/{ident}").get_json()][:10]
    calls = [
        Call("overview", "GET", f"{api}/overview"), Call("overview", "GET", f"{api}/deploy_details"),
        Call("hourly_load", "GET", f"{api}/hourly_load/{week}/{today}"),
        Call("requests", "GET", f"{api}/requests/{fortnight}/{today}"),
        Call("multi_version", "GET", f"{api}/versions"),
        Call("multi_version", "POST", f"{api}/multi_version", {"data": {"endpoints": names, "versions": versions}}),
        Call("api_performance", "POST", f"{api}/api_performance", {"data": {"endpoints": names}}),
        Call("endpoints", "GET", f"{api}/endpoints"), Call("endpoints", "GET", f"{api}/endpoints_hits"),
        Call("exceptions", "GET", f"{api}/num_exceptions"),
        Call("exceptions", "GET", f"{api}/exception_occurrence/0/10"),
        Call("endpoint", "GET", f"{api}/endpoint_info/{ident}"),
        Call("endpoint", "GET", f"{api}/endpoint_status_code_summary/{ident}"),
        Call("endpoint hourly", "GET", f"{api}/hourly_load/{week}/{today}/{ident}"),
        Call("endpoint versions", "GET", f"{api}/versions/{ident}"),
        Call("endpoint versions", "POST", f"{api}/endpoint_versions/{ident}", {"data": {"versions": own}}),
        Call("endpoint users", "GET", f"{api}/users/{ident}"),
        Call("endpoint users", "POST", f"{api}/endpoint_users/{ident}", {"data": {"users": users}}),
        Call("endpoint users", "POST", f"{api}/version_user/{ident}", {"data": {"versions": own, "users": users}}),
        Call("endpoint ip", "GET", f"{api}/ip/{ident}"),
        Call("endpoint ip", "POST", f"{api}/version_ip/{ident}", {"data": {"versions": own, "ip": ips}}),
        Call("endpoint profiler", "GET", f"{api}/num_profiled/{ident}"),
        Call("endpoint profiler", "GET", f"{api}/profiler_table/{ident}/0/10"),
        Call("endpoint grouped profiler", "GET", f"{api}/grouped_profiler/{ident}"),
        Call("endpoint outliers", "GET", f"{api}/num_outliers/{ident}"),
        Call("endpoint outliers", "GET", f"{api}/outlier_graph/{ident}"),
        Call("endpoint outliers", "GET", f"{api}/outlier_table/{ident}/0/10"),
        Call("endpoint exceptions", "GET", f"{api}/num_exceptions/{ident}"),
    ]
    now = time.time()
    window = f"startedAt={now - days * 86400:.0f}&endedAt={now:.0f}"
    profile = "/flask-profile/api/measurements"
    calls += [Call("flask-profile", "GET", f"{profile}/?{window}&sort=endedAt,desc&skip=0&limit=100", auth=True),
              Call("flask-profile", "GET", f"{profile}/grouped?{window}&sort=count,desc&skip=0&limit=-1", auth=True),
              Call("flask-profile", "GET", f"{profile}/timeseries/?{window}&interval=daily", auth=True),
              Call("flask-profile", "GET", f"{profile}/methodDistribution/?{window}", auth=True)]
    return calls
