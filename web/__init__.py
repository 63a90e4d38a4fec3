"""Composition root: the Flask app factory, auth, API, CLI and demo; the only package importing all."""

from web.app import create_app

__all__ = ["create_app"]
