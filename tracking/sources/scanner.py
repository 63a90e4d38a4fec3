"""The local bleak scanner as a supervised ingester: adverts checked against the shared limits, counted, fed in.

The state stays `starting` until the first advert arrives. A scan that cannot start (no D-Bus, no
BlueZ, no adapter) is an outage: the sentence is kept as the last error and the scan is retried with
backoff (an adapter plugged in later is picked up). An error on one advert is counted; the scan goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from bleak.backends.scanner import BaseBleakScanner

from core.heartbeats import Beat, WorkerState
from core.supervisor import Outage, Supervised
from firmware_bridge.ble.decode import Beacon
from firmware_bridge.ble.scanner import ScannerUnavailable, scan
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tracking.observation import Observation, observation_from
from tracking.sources import limits
from tracking.sources.limits import Rejected, TimeLimits
from tracking.sources.stats import IngestStats


class ScannerSource:
    def __init__(
        self,
        ingest: Callable[[list[Observation]], Any],
        gateway_id: str,
        adapter: str | None = None,
        times: TimeLimits | None = None,
        silent_after_s: float | None = None,
        backend: type[BaseBleakScanner] | None = None,
        on_observation: Callable[[Observation], Any] | None = None,
        give_up_if_never_up: bool = False,
    ) -> None:
        self.ingest, self.adapter, self.backend = ingest, adapter, backend
        self.gateway_id = limits.gateway_id(gateway_id)
        self.times = times or TimeLimits()
        self.on_observation = on_observation
        self.matcher = TelemetryMatcher()
        self.name = f"tracking-ble-scanner {gateway_id}"
        self.stats = IngestStats(self.name, silent_after_s)
        self.supervisor = Supervised(self.name, self._session, (2.0, 60.0), give_up_if_never_up=give_up_if_never_up)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def heard(self, address: str, rssi: int, beacon: Beacon) -> None:
        """One advert from bleak: checked, then fed to the engine; nothing it carries can stop the scan."""
        try:
            key = self.matcher.identify(limits.text(address, "address", limits.ADDRESS_MAX, '"AA:BB:CC:DD:EE:FF"'),
                                        beacon)  # fmt: skip
            if key is None:
                return
            now = time.time()
            obs = limits.check_observation(observation_from(beacon, key, self.gateway_id, rssi, now), now, self.times)
            self.ingest([obs])
            self.stats.accept()
            if self.supervisor.state != WorkerState.RUNNING:  # the first advert proves the scan works
                self.supervisor.up()
            if self.on_observation is not None:
                self.on_observation(obs)
        except Rejected as exc:
            self.stats.reject(exc.key, exc.message, f" from {address!r}")
        except Exception as exc:
            self.stats.error(exc, f" from {address!r}")

    def _session(self, supervisor: Supervised) -> None:
        asyncio.run(self._scan(supervisor))

    async def _scan(self, supervisor: Supervised) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if supervisor.stopping.is_set():
            return
        beating = asyncio.create_task(self._beat(supervisor))
        try:
            await scan(self.heard, None, self.adapter, backend=self.backend, stop=self._stop)
        except ScannerUnavailable as exc:
            raise Outage(str(exc)) from None
        finally:
            beating.cancel()
            self._loop = None

    async def _beat(self, supervisor: Supervised) -> None:
        while True:
            supervisor.beat()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stopping.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # it closed meanwhile: nothing left to stop
                loop.call_soon_threadsafe(stop.set)
        self.supervisor.stop()

    def heartbeat(self) -> Beat:
        extra = {"restarts": self.supervisor.restarts, "outages": self.supervisor.outages}
        return self.stats.beat(self.supervisor.state, self.supervisor.alive_at, self.supervisor.last_error,
                               f"adapter {self.adapter or 'default'}", extra)  # fmt: skip
