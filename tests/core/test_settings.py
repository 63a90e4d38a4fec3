from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


def test_defaults_put_sqlite_and_secret_in_instance_folder(tmp_path: Path) -> None:
    settings = load_settings(environ={}, instance_path=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'vendtrack.db'}"
    assert len(settings.secret_key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    again = load_settings(environ={}, instance_path=tmp_path)
    assert again.secret_key == settings.secret_key  # kept across restarts


def test_reads_prefixed_variables(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "VENDTRACK_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "VENDTRACK_SMTP_PORT": "2525",
            "VENDTRACK_SMTP_STARTTLS": "yes",
            "OTHER": "ignored",
        },
        instance_path=tmp_path,
    )
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.smtp_port == 2525
    assert settings.smtp_starttls is True


def test_unknown_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="VENDTRACK_DATABSE_URL"):
        load_settings(environ={"VENDTRACK_DATABSE_URL": "sqlite://"}, instance_path=tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SMTP_PORT", "twenty-five", "SMTP_PORT"),
        ("SMTP_STARTTLS", "maybe", "boolean"),
        ("DATABASE_URL", "vendtrack.db", "not a database URL"),
        ("DATABASE_URL", "mysql://x@db/vendtrack", "starts mysql://, a database or driver vendtrack does not run on"),
        ("DATABASE_URL", "postgres://x@db/vendtrack", r"use e.g. postgresql\+psycopg://"),
        ("DATABASE_URL", "postgresql+psycopg2://x@db/vendtrack", "SQLite and on PostgreSQL through psycopg 3"),
    ],
)
def test_malformed_values_name_the_variable(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load_settings(environ={f"VENDTRACK_{name}": value}, instance_path=tmp_path)
