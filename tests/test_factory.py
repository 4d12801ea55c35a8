"""The factory and its config layers: profiles, instance config, env, test_config."""
import os
import stat

import pytest

import config
from webapp import create_app

GOOD_KEY = "k" * 40


@pytest.mark.parametrize("name", sorted(config.PROFILES))
def test_each_profile_loads(make_app, name):
    app = make_app(name, SECRET_KEY=GOOD_KEY)
    assert app.config["PROFILE"] == name
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
    assert app.config["PROFILE"] == "bare"


def test_default_profile_is_development(monkeypatch, instance_path):
    monkeypatch.delenv("APP_PROFILE", raising=False)
    app = create_app(test_config={"INSTANCE_PATH": str(instance_path), "DASHBOARD_ENABLED": False,
                                  "FLASK_PROFILER_ENABLED": False, "DEBUG_TB_ENABLED": False})
    assert app.config["PROFILE"] == "development"


def test_first_run_creates_private_instance_config(instance_path, capsys):
    create_app("bare", {"INSTANCE_PATH": str(instance_path)})
    path = instance_path / "config.py"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    content = path.read_text()
    assert "SECRET_KEY = '" in content and "MONITOR_PASSWORD_HASH = 'scrypt:" in content
    password = capsys.readouterr().err.split("password '")[1].split("'")[0]
    assert password not in content  # printed once, stored only as a hash
    first = content
    app = create_app("bare", {"INSTANCE_PATH": str(instance_path)})
    assert path.read_text() == first  # not recreated
    assert len(app.config["SECRET_KEY"]) == 64


def test_config_layers_in_order(instance_path, monkeypatch):
    create_app("bare", {"INSTANCE_PATH": str(instance_path)})
    with open(instance_path / "config.py", "a") as handle:
        handle.write("SLOW_QUERY_MS = 7\nWSGI_PROFILER_KEEP = 9\nDASHBOARD_LEVEL = 2\n")
    monkeypatch.setenv("APP_WSGI_PROFILER_KEEP", "11")
    monkeypatch.setenv("APP_DASHBOARD_LEVEL", "0")
    app = create_app("bare", {"INSTANCE_PATH": str(instance_path), "DASHBOARD_LEVEL": 3})
    assert app.config["SLOW_QUERY_MS"] == 7  # instance/config.py over the profile
    assert app.config["WSGI_PROFILER_KEEP"] == 11  # env over instance, parsed as JSON
    assert app.config["DASHBOARD_LEVEL"] == 3  # test_config over env


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
    assert app.config["PROFILE"] == "production" and not app.debug
