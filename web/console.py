"""The `vendtrack` console command: web.cli's command line on apps built by web.app's create_app."""

from __future__ import annotations

from web import cli
from web.app import create_app


def main() -> None:
    cli.main(create_app)
