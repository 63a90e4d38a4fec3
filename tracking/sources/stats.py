"""Per-ingester counters: accepted, rejected per `field:reason`, unexpected errors per type, last message time.

Updated in memory on every message (a lock and an add), written to the database by the process's
heartbeat writer every few seconds, so /healthz in any process sees every ingester. Rejections are
logged once per reason per minute with how many there were, so a flood of bad messages cannot flood
the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from core.heartbeats import Beat, WorkerKind, WorkerState

log = logging.getLogger(__name__)
LOG_EVERY_S = 60.0


class IngestStats:
    def __init__(self, role: str, silent_after_s: float | None = None) -> None:
        self.role = role
        self.silent_after_s = silent_after_s
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_message_at: float | None = None
        self.started_at = datetime.now(UTC)
        self._lock = threading.Lock()
        self._logged: dict[str, tuple[float, int]] = {}  # reason -> (when last logged, count then)

    def accept(self, count: int = 1) -> None:
        with self._lock:
            self.accepted += count
            self.last_message_at = time.time()

    def accept_one(self) -> None:
        """`accept(1)` for a single-threaded consumer's hot path: no lock (only that thread writes `accepted`)."""
        self.accepted += 1
        self.last_message_at = time.time()

    def heard(self) -> None:
        """A message arrived (whatever became of it): the source is not silent."""
        self.last_message_at = time.time()

    def reject(self, key: str, message: str, where: str = "") -> None:
        with self._lock:
            self.rejected[key] += 1
            self.last_message_at = time.time()
            total = self.rejected[key]
            last = self._logged.get(key)
            due = last is None or time.monotonic() - last[0] >= LOG_EVERY_S
            if due:
                self._logged[key] = (time.monotonic(), total)
        if due:
            since = total - (last[1] if last else 0)
            log.warning("%s rejected %d message(s) for %s%s: %s", self.role, since, key, where, message)

    def error(self, exc: BaseException, where: str = "") -> None:
        """An unexpected error on one message: logged with its traceback, counted, and the consumer goes on."""
        with self._lock:
            self.errors[type(exc).__name__] += 1
        log.error("%s failed on a message%s; skipped it and carried on", self.role, where, exc_info=exc)

    def counters(self) -> dict[str, int]:
        with self._lock:
            found = {"accepted": self.accepted, "rejected": sum(self.rejected.values())}
            found.update({f"rejected:{k}": v for k, v in self.rejected.items()})
            found.update({f"error:{k}": v for k, v in self.errors.items()})
        return found

    def beat(
        self, state: WorkerState, alive_at: datetime | None = None, last_error: str = "", info: str = "",
        extra: dict[str, int] | None = None,
    ) -> Beat:  # fmt: skip
        heard = self.last_message_at
        return Beat(
            role=self.role,
            alive_at=alive_at or datetime.now(UTC),
            started_at=self.started_at,
            state=state,
            kind=WorkerKind.INGESTER,
            last_activity_at=datetime.fromtimestamp(heard, UTC) if heard is not None else None,
            silent_after_s=self.silent_after_s,
            counters=self.counters() | (extra or {}),
            last_error=last_error,
            info=info,
        )
