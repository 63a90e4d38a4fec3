"""Alembic migrations: one branch per package (core, vending, tracking, procurement), applied together."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent
BRANCHES = ("core", "vending", "tracking", "procurement")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    locations = [str(HERE / "versions" / b) for b in BRANCHES if (HERE / "versions" / b).is_dir()]
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), target)


def current(database_url: str) -> None:
    command.current(alembic_config(database_url), verbose=True)
