"""Serial badge readers per machine: started from each machine's configuration, feeding the kiosk's inbox.

A machine's driver configuration may carry `"badge_reader": {"port": "/dev/ttyACM0", "baudrate": 9600}`;
reads land in the runtime's BadgeInbox and the kiosk page picks them up from /poll.
"""

from __future__ import annotations

import json
import logging
from functools import partial

from sqlalchemy import select

from core.db import unit_of_work
from core.runtime import AppServices
from vending.badge_reader import SerialBadgeReader
from vending.models import Machine
from vending.runtime import runtime

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
        inbox = runtime(self.services).inbox
        for code, (port, reader) in list(self.readers.items()):
            if wanted.get(code, ("",))[0] != port:
                reader.stop()
                del self.readers[code]
        for code, (port, baudrate) in wanted.items():
            if code not in self.readers:
                reader = SerialBadgeReader(port, partial(inbox.put, code), baudrate)
                reader.start()
                self.readers[code] = (port, reader)
                log.info("badge reader for %s on %s started", code, port)

    def stop(self) -> None:
        for _, reader in self.readers.values():
            reader.stop()
        self.readers.clear()
