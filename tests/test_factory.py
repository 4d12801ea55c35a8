"""The factory and its config layers: profiles, instance config, env, test_config."""
import os
import stat

import pytest

import config
from webapp import create_app

GOOD_KEY = "5f0c9d3e8a7b41c6b2e9d7a4f1c3e8b6a9d2f7c4e1b8a5d3"  # production refuses "k" * 40 (one character)


@pytest.mark.parametrize("name", sorted(config.PROFILES))
def test_each_profile_loads(make_app, name):
    app = make_app(name, SECRET_KEY=GOOD_KEY)
    assert app.config["PERF_PROFILE"] == name
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("school.db")


def test_unknown_profile_fails_listing_valid_ones(make_app):
    with pytest.raises(config.ConfigError) as info:
        make_app("staging")
    message = info.value.format_message()
    assert "'staging'" in message
    for name in config.PROFILES:
        assert name in message


def test_app_profile_env_picks_profile(monkeypatch, instance_path):
    monkeypatch.setenv("APP_PROFILE", "bare")
    app = create_app(test_config={"INSTANCE_PATH": str(instance_path)})
    assert app.config["PERF_PROFILE"] == "bare"


def test_default_profile_is_development(monkeypatch, instance_path):
    monkeypatch.delenv("APP_PROFILE", raising=False)
    app = create_app(test_config={"INSTANCE_PATH": str(instance_path), "PERF_DASHBOARD_ENABLED": False,
                                  "PERF_PROFILER_ENABLED": False, "PERF_TOOLBAR_ENABLED": False})
    assert app.config["PERF_PROFILE"] == "development"


def test_first_run_creates_private_instance_config(instance_path, capsys):
    create_app("testing", {"INSTANCE_PATH": str(instance_path)})
    path, login = instance_path / "config.py", instance_path / "flask-perf-login.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(login).st_mode) == 0o600
    content, login_content = path.read_text(), login.read_text()
    assert "SECRET_KEY = '" in content and '"password_hash": "scrypt:' in login_content
    password = capsys.readouterr().err.split("password '")[1].split("'")[0]
    assert password not in content + login_content  # printed once, stored only as a hash
    first = content + login_content
    app = create_app("testing", {"INSTANCE_PATH": str(instance_path)})
    assert path.read_text() + login.read_text() == first  # not recreated
    assert "password '" not in capsys.readouterr().err  # and not printed again
    assert len(app.config["SECRET_KEY"]) == 64
    assert app.extensions["flask_perf"].credentials.check("admin", password)


def test_config_layers_in_order(instance_path, monkeypatch):
    create_app("bare", {"INSTANCE_PATH": str(instance_path)})
    with open(instance_path / "config.py", "a") as handle:
        handle.write("PERF_SLOW_QUERY_MS = 7\nPERF_WSGI_PROFILER_KEEP = 9\nPERF_DASHBOARD_LEVEL = 2\n")
    monkeypatch.setenv("APP_PERF_WSGI_PROFILER_KEEP", "11")
    monkeypatch.setenv("APP_PERF_DASHBOARD_LEVEL", "0")
    app = create_app("bare", {"INSTANCE_PATH": str(instance_path), "PERF_DASHBOARD_LEVEL": 3})
    assert app.config["PERF_SLOW_QUERY_MS"] == 7  # instance/config.py over the profile
    assert app.config["PERF_WSGI_PROFILER_KEEP"] == 11  # env over instance, parsed as JSON
    assert app.config["PERF_DASHBOARD_LEVEL"] == 3  # test_config over env


def test_database_uri_from_env(instance_path, monkeypatch):
    monkeypatch.setenv("APP_SQLALCHEMY_DATABASE_URI", "mysql+pymysql://root@127.0.0.1:3306/test")
    app = create_app("bare", {"INSTANCE_PATH": str(instance_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.mark.parametrize("key, reason", [
    ("", "missing"), ("my-secret-key", "well-known default"), ("changeme", "well-known default"),
    ("short-but-random-Zx81", "shorter than 32"),
])
def test_production_refuses_weak_secret_key(instance_path, key, reason):
    with pytest.raises(config.ConfigError, match=reason):
        create_app("production", {"INSTANCE_PATH": str(instance_path), "SECRET_KEY": key})


def test_production_starts_with_instance_secret(instance_path):
    app = create_app("production", {"INSTANCE_PATH": str(instance_path)})
    assert app.config["PERF_PROFILE"] == "production" and not app.debug
