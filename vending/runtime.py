"""The per-app vending runtime: device pool, dispense runner and badge inbox, kept in AppServices.extras."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from core.runtime import AppServices
from vending.badges import Badge
from vending.drivers import DevicePool
from vending.runner import DispenseRunner

KEY = "vending"
_guard = threading.Lock()


@dataclass
class BadgeInbox:
    """Badges read by serial readers, per machine, waiting for that machine's kiosk page to pick them up."""

    _queues: dict[str, deque[Badge]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, machine_code: str, badge: Badge) -> None:
        with self._lock:
            self._queues.setdefault(machine_code, deque(maxlen=5)).append(badge)

    def take(self, machine_code: str) -> Badge | None:
        with self._lock:
            queue = self._queues.get(machine_code)
            return queue.popleft() if queue else None


@dataclass
class VendingRuntime:
    pool: DevicePool
    runner: DispenseRunner
    inbox: BadgeInbox


def runtime(services: AppServices) -> VendingRuntime:
    """The runtime of this app, created on first use (the same for every request of the process)."""
    with _guard:
        found = services.extras.get(KEY)
        if found is None:
            pool = DevicePool()
            found = VendingRuntime(pool, DispenseRunner(services.session_factory, services.clock, pool), BadgeInbox())
            services.extras[KEY] = found
        return found
