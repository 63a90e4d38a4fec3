"""Serial badge readers per machine: started from each machine's configuration, feeding the kiosk's screen.

A machine's driver configuration may carry `"badge_reader": {"port": "/dev/ttyACM0", "baudrate": 9600}`;
reads land in vending.kiosk_state (durable, pushed to the screen's event stream in whichever process holds it).
"""

from __future__ import annotations

import json
import logging
from functools import partial

from sqlalchemy import select

from core.db import unit_of_work
from core.runtime import AppServices
from vending import kiosk_state
from vending.badge_reader import SerialBadgeReader
from vending.badges import Badge
from vending.models import Machine

log = logging.getLogger(__name__)


class ReaderSet:
    """Keeps one SerialBadgeReader running per configured machine; `refresh` follows configuration changes."""

    def __init__(self, services: AppServices) -> None:
        self.services = services
        self.readers: dict[str, tuple[str, SerialBadgeReader]] = {}  # machine code -> (port, reader)

    def wanted(self) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        with unit_of_work(self.services.session_factory) as session:
            for code, config_text in session.execute(select(Machine.code, Machine.driver_config)):
                try:
                    reader = json.loads(config_text or "{}").get("badge_reader")
                except ValueError:
                    continue
                if isinstance(reader, dict) and isinstance(reader.get("port"), str):
                    found[code] = (reader["port"], int(reader.get("baudrate", 9600)))
        return found

    def refresh(self) -> None:
        wanted = self.wanted()
        for code, (port, reader) in list(self.readers.items()):
            if wanted.get(code, ("",))[0] != port:
                reader.stop()
                del self.readers[code]
        for code, (port, baudrate) in wanted.items():
            if code not in self.readers:
                reader = SerialBadgeReader(port, partial(self.read, code), baudrate)
                reader.start()
                self.readers[code] = (port, reader)
                log.info("badge reader for %s on %s started", code, port)

    def read(self, machine_code: str, badge: Badge) -> None:
        """A reader's read: kept for the machine's screen (a reader thread; a failure is logged, the reader goes on)."""
        try:
            with unit_of_work(self.services.session_factory) as session:
                kiosk_state.record_badge(session, machine_code, badge.raw, self.services.clock.now())
        except Exception:
            log.exception("badge read on %s could not be kept", machine_code)

    def stop(self) -> None:
        for _, reader in self.readers.values():
            reader.stop()
        self.readers.clear()
