"""The per-app vending runtime: device pool and dispense runner, kept in AppServices.extras (badge reads and
progress phases live in the database: vending.kiosk_state)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from core.runtime import AppServices
from vending.drivers import DevicePool
from vending.runner import DispenseRunner

KEY = "vending"
_guard = threading.Lock()


@dataclass
class VendingRuntime:
    pool: DevicePool
    runner: DispenseRunner


def runtime(services: AppServices) -> VendingRuntime:
    """The runtime of this app, created on first use (the same for every request of the process)."""
    with _guard:
        found = services.extras.get(KEY)
        if found is None:
            pool = DevicePool()
            found = VendingRuntime(pool, DispenseRunner(services.session_factory, services.clock, pool))
            services.extras[KEY] = found
        return found
