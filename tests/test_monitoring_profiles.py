"""Which tools each profile attaches, and the toolbar's absence from production."""
import pytest

EXPECTED = {
    "development": {"toolbar", "dashboard", "flask-profiler", "slow-query"},
    "profiling": {"dashboard", "flask-profiler", "slow-query", "ProfilerMiddleware"},
    "testing": {"dashboard", "flask-profiler", "slow-query"},
    "production": {"dashboard", "slow-query"},
    "bare": set(),
}
KEYWORDS = {"toolbar": "debugtoolbar", "dashboard": "MonitoringDashboard",
            "flask-profiler": "flask-profiler", "slow-query": "slow-query",
            "ProfilerMiddleware": "ProfilerMiddleware"}


def attached(app) -> set[str]:
    names = " | ".join(app.extensions["flask_perf"].tools)
    return {short for short, word in KEYWORDS.items() if word in names}


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_profile_attaches_its_tools(make_app, tmp_path, profile):
    app = make_app(profile, PERF_STORE_DIR=str(tmp_path / "mon"))
    assert attached(app) == EXPECTED[profile]
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert ("/dashboard/" in rules) == ("dashboard" in EXPECTED[profile])
    assert ("/flask-profile/" in rules) == ("flask-profiler" in EXPECTED[profile])
    assert any(r.startswith("/_debug_toolbar") for r in rules) == ("toolbar" in EXPECTED[profile])


def test_production_never_gets_the_toolbar(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_PERF_TOOLBAR_ENABLED", "true")
    monkeypatch.setenv("APP_DEBUG_TB_HOSTS", "[]")
    app = make_app("production", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=True)
    assert "toolbar" not in attached(app)
    assert not any(r.rule.startswith("/_debug_toolbar") for r in app.url_map.iter_rules())
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'school.db'}"
    page = app.test_client().get("/", environ_base={"REMOTE_ADDR": "127.0.0.1",
                                                    "HTTP_ACCEPT": "text/html"})
    assert page.status_code == 200 and "flDebug" not in page.get_data(as_text=True)


def test_development_forced_toolbar_env_is_honoured(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("APP_PERF_TOOLBAR_ENABLED", "false")
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"))
    assert "toolbar" not in attached(app)
