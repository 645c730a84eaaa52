import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "SUPPORTDESK_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-a-production-secret-of-enough-length-0123456789",
    "ALLOWED_HOSTS": "desk.example.com",
    "DEBUG": "0",
}


def run_manage(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("SECRET_KEY", None)
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_deploy_check_passes_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_development_secret_key():
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    result = run_manage("check", env_extra=env)
    assert result.returncode != 0
    assert "development key is refused" in result.stderr


def test_production_refuses_debug():
    result = run_manage("check", env_extra={**PRODUCTION_ENV, "DEBUG": "1"})
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="services pass")
def test_embedded_defaults_without_variables(settings):
    # The fast pass runs with nothing configured: that is the one-machine trial.
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.ANTHROPIC_API_KEY == ""


@pytest.mark.parametrize(("eager", "level"), [("1", "WARNING"), ("0", "NOTSET")])
def test_eager_tasks_log_no_line_per_success(eager, level):
    # bin/serve runs the schedule's sweeps eagerly: their "Task ... succeeded" lines every few
    # seconds buried the printed logins; a worker's own log keeps them.
    code = ("import logging, django; django.setup(); "
            "print(logging.getLevelName(logging.getLogger('celery.app.trace').level))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(CELERY_TASK_ALWAYS_EAGER=eager, DJANGO_SETTINGS_MODULE="supportdesk.settings")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == level


def test_a_sqlite_database_url_works(tmp_path):
    # DATABASE_URL may name any engine; PostgreSQL-only options must not reach the others.
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    result = run_manage("migrate", "--noinput", "-v0", env_extra={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "desk.sqlite3").exists()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("IMPORT_MAX_NEW_INTENTS", "x", "IMPORT_MAX_NEW_INTENTS must be a whole number, not 'x'"),
        ("CHAT_MAX_MESSAGE_CHARS", "2.5", "CHAT_MAX_MESSAGE_CHARS must be a whole number"),
        ("CELERY_TASK_ALWAYS_EAGER", "maybe", "CELERY_TASK_ALWAYS_EAGER must be one of"),
        ("DEBUG", "enabled", "DEBUG must be one of"),
    ],
)
def test_a_malformed_variable_is_refused_by_name(name, value, expected):
    # A typo in the environment stops the start with the variable's name, not a bare traceback.
    result = run_manage("check", env_extra={name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert expected in result.stderr


def test_a_float_variable_refuses_words_and_infinity():
    accepted = [
        value for value in ("soon", "inf", "nan")
        if run_manage("check", env_extra={"ANTHROPIC_TIMEOUT": value}).returncode == 0
    ]
    assert accepted == []
    assert run_manage("check", env_extra={"ANTHROPIC_TIMEOUT": "2.5"}).returncode == 0


@pytest.mark.parametrize("value", ["javascript:alert(1)", "//evil.example/", "northwind.example"])
def test_the_help_centers_home_address_must_be_a_web_address(value):
    result = run_manage("check", env_extra={"HELP_CENTER_HOME_URL": value})
    assert result.returncode != 0
    assert "HELP_CENTER_HOME_URL must be an http(s) address" in result.stderr
