"""Imports every package's models so Base.metadata holds the whole schema (for autogenerate and checks)."""

from __future__ import annotations

import importlib
import importlib.util

from sqlalchemy import MetaData

import core.audit
import core.fleet_models
import core.heartbeats
import core.models
import core.outbox
import core.push  # noqa: F401
from core.db import Base

DOMAIN_MODELS = ("vending.models", "tracking.models", "procurement.models")


def load_all_models() -> MetaData:
    for name in DOMAIN_MODELS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return Base.metadata
