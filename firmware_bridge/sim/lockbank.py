"""What every lock-board simulator shares: doors that pop open after a pulse, a scripted person, faults on replies.

A board family subclasses `LockBankSim` with its `scanner`, `is_request(frame)` and `handle(frame)`
(replies to one request frame, empty for an absent board: RS-485 stays silent). Locks are keyed by the
number the family's wire uses (Kerong 0..15, the XOR boards 1..channels).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from firmware_bridge.sim import Faults, VirtualLine, modelled_wire_time
from firmware_bridge.sim.device import SimulatedSerialDevice
from firmware_bridge.transport.framing import FrameScanner

log = logging.getLogger(__name__)


@dataclass
class SimLock:
    door_open: bool = False
    item_present: bool = True
    stuck: bool = False
    unlocks: int = 0  # pulses this lock received (a stuck lock counts too)


class LockBankSim(SimulatedSerialDevice):
    """Boards of locks on one simulated RS-485 line. Thread-safe Python API for tests and demos."""

    request_len = 5  # bytes of a request, for the modelled wire time of a round trip

    def __init__(
        self,
        boards: Iterable[int],
        locks: Iterable[int],
        scanner: FrameScanner,
        *,
        tcp: tuple[str, int] | None,
        link: str | None,
        baud: int,
        model_wire_time: bool,
        response_delay: float,
        unlock_delay: float,
        close_after: float | None,
        take_item: bool,
        faults: Faults | None,
    ) -> None:
        lock_numbers = tuple(locks)
        self.boards = {b: {lk: SimLock() for lk in lock_numbers} for b in boards}
        self.baud = baud
        self.model_wire_time = model_wire_time
        self.response_delay = response_delay
        self.unlock_delay = unlock_delay
        self.close_after = close_after  # the scripted person closes a door this long after it opened
        self.take_item = take_item  # ... and takes the item while it is open
        self.faults = faults or Faults()
        super().__init__(VirtualLine(tcp=tcp, link=link))
        self.scanner = scanner
        self.requests_seen = 0

    # -- the family's frames ------------------------------------------------------------------------------
    def is_request(self, frame: bytes) -> bool:
        raise NotImplementedError

    def handle(self, frame: bytes) -> list[bytes]:
        raise NotImplementedError

    # -- the person, the hardware, the faults ------------------------------------------------------------
    def lock(self, board: int, lock: int) -> SimLock:
        return self.boards[board][lock]

    def open_door(self, board: int, lock: int, after: float = 0.0) -> None:
        """Someone opens a door without an unlock (forced door, a lock that never latched): uncommanded.

        Without `after` the door is open when this returns; with it, the simulator opens it that much later.
        """
        self._at(after, lambda: self._set_open(board, lock, True))

    def person_closes(self, board: int, lock: int, after: float = 0.0) -> None:
        """The door is shut: now (closed when this returns) or `after` seconds from now."""
        self._at(after, lambda: self._set_open(board, lock, False))

    def _at(self, after: float, action: Callable[[], None]) -> None:
        if after > 0:
            self.after(after, action)
        else:
            action()

    def take(self, board: int, lock: int) -> None:
        with self._lock:
            self.boards[board][lock].item_present = False

    def put(self, board: int, lock: int) -> None:
        with self._lock:
            self.boards[board][lock].item_present = True

    def set_stuck(self, board: int, lock: int, stuck: bool = True) -> None:
        with self._lock:
            self.boards[board][lock].stuck = stuck

    def unlock_count(self, board: int, lock: int) -> int:
        with self._lock:
            return self.boards[board][lock].unlocks

    # -- device behaviour ------------------------------------------------------------------------------------
    def _set_open(self, board: int, lock: int, is_open: bool) -> None:
        with self._lock:
            state = self.boards[board][lock]
            was_open, state.door_open = state.door_open, is_open
            if is_open and not was_open:
                self.door_opened(board, lock)
                if self.close_after is not None:
                    if self.take_item:
                        self.after(self.close_after / 2, lambda: self.take(board, lock))
                    self.person_closes(board, lock, self.close_after)

    def door_opened(self, board: int, lock: int) -> None:
        """Hook: a door went from closed to open (families with a latched 'opened' bit record it here)."""

    def pulse(self, board: int, lock: int) -> None:
        with self._lock:
            state = self.boards[board][lock]
            state.unlocks += 1
            if not state.stuck and not state.door_open:
                self.after(self.unlock_delay, lambda: self._set_open(board, lock, True))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a simulator must outlive its own bugs: log and keep serving
                log.exception("%s: error while serving a request", self.thread_name)
                self._stop.wait(0.01)

    def _step(self) -> None:
        """Fire due timers, then serve whatever requests arrived (waiting at most until the next timer)."""
        self._run_timers()
        data = self.line.read(self._next_timer_wait(0.02))
        if not data:
            return
        for frame in self.scanner.feed(data):
            if not self.is_request(frame):
                continue  # another device's reply echoed on the bus
            for reply in self.handle(frame):
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        shaped = self.faults.shape(reply)
        if shaped is None:
            return
        delay, data = shaped
        if self.model_wire_time:
            delay += modelled_wire_time(self.request_len + len(data), self.baud)
        delay += self.response_delay
        if delay > 0:
            self._stop.wait(delay)
        self.line.write(data)
