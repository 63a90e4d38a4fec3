"""A simulated bus of Kerong KR-CU16 lock boards speaking the real frames on a pty or TCP port.

Doors pop open `unlock_delay` after an unlock pulse (unless the lock is stuck), a scripted person
takes items and closes doors, and `faults` shapes every reply. Start it in-process::

    with LockBoardSim(boards=(0, 1), link=str(tmp / "cu16")) as sim:
        bus = KerongLockerBus.from_config({"port": sim.url, "boards": [0, 1]})
        sim.faults.drop_next = 1          # lose the next reply
        sim.person_closes(0, 3, after=0.5)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from firmware_bridge.kerong.codec import (
    BROADCAST,
    CMD_STATUS,
    CMD_STATUS_ALL,
    CMD_UNLOCK,
    CMD_UNLOCK_ALL,
    LOCKS_PER_BOARD,
    REPLY_STATUS,
    REPLY_STATUS_ALL,
    REQUEST_LEN,
    KerongScanner,
    decode_request,
    encode_status_reply,
)
from firmware_bridge.sim import Faults, VirtualLine, modelled_wire_time
from firmware_bridge.sim.device import SimulatedSerialDevice

log = logging.getLogger(__name__)


@dataclass
class SimLock:
    door_open: bool = False
    item_present: bool = True
    stuck: bool = False
    unlocks: int = 0  # pulses this lock received (a stuck lock counts too)


class LockBoardSim(SimulatedSerialDevice):
    """One RS-485 bus with KR-CU16 boards at `boards` addresses. Thread-safe Python API for tests and demos."""

    thread_name = "lockboard-sim"

    def __init__(
        self,
        boards: Iterable[int] = (0,),
        *,
        tcp: tuple[str, int] | None = None,
        link: str | None = None,
        baud: int = 19200,
        model_wire_time: bool = True,
        response_delay: float = 0.002,
        unlock_delay: float = 0.05,
        answer_unlock: bool = True,
        hook_set_closed: bool = True,
        sensor_set_present: bool = True,
        close_after: float | None = None,
        take_item: bool = False,
        faults: Faults | None = None,
    ) -> None:
        self.boards = {b: [SimLock() for _ in range(LOCKS_PER_BOARD)] for b in boards}
        self.baud = baud
        self.model_wire_time = model_wire_time
        self.response_delay = response_delay
        self.unlock_delay = unlock_delay
        self.answer_unlock = answer_unlock
        self.hook_set_closed = hook_set_closed
        self.sensor_set_present = sensor_set_present
        self.close_after = close_after  # the scripted person closes a door this long after it opened
        self.take_item = take_item  # ... and takes the item while it is open
        self.faults = faults or Faults()
        super().__init__(VirtualLine(tcp=tcp, link=link))
        self.scanner = KerongScanner("lockboard-sim")
        self.requests_seen = 0

    # -- the person, the hardware, the faults ------------------------------------------------------------
    def lock(self, board: int, lock: int) -> SimLock:
        return self.boards[board][lock]

    def open_door(self, board: int, lock: int, after: float = 0.0) -> None:
        """Someone opens a door without an unlock (forced door, a lock that never latched): uncommanded."""
        self.after(after, lambda: self._set_open(board, lock, True))

    def person_closes(self, board: int, lock: int, after: float = 0.0) -> None:
        self.after(after, lambda: self._set_open(board, lock, False))

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
            if is_open and not was_open and self.close_after is not None:
                if self.take_item:
                    self.after(self.close_after / 2, lambda: self.take(board, lock))
                self.person_closes(board, lock, self.close_after)

    def _pulse(self, board: int, lock: int) -> None:
        with self._lock:
            state = self.boards[board][lock]
            state.unlocks += 1
            if not state.stuck and not state.door_open:
                self.after(self.unlock_delay, lambda: self._set_open(board, lock, True))

    def status_reply(self, board: int, command: int = REPLY_STATUS) -> bytes:
        hooks = sensors = 0
        with self._lock:
            for i, state in enumerate(self.boards[board]):
                if (not state.door_open) == self.hook_set_closed:
                    hooks |= 1 << i
                if state.item_present == self.sensor_set_present:
                    sensors |= 1 << i
        return encode_status_reply(board, hooks, sensors, command)

    def handle(self, frame: bytes) -> list[bytes]:
        """Replies to one request frame, in bus order (empty for an absent board: RS-485 stays silent)."""
        request = decode_request(frame)
        self.requests_seen += 1
        if request.command == CMD_STATUS_ALL and frame[1] == BROADCAST:
            return [self.status_reply(b, REPLY_STATUS_ALL) for b in sorted(self.boards)]
        if request.board not in self.boards:
            return []
        if request.command == CMD_STATUS:
            return [self.status_reply(request.board)]
        if request.command == CMD_STATUS_ALL:
            return [self.status_reply(request.board, REPLY_STATUS_ALL)]
        if request.command == CMD_UNLOCK:
            self._pulse(request.board, request.lock)
        elif request.command == CMD_UNLOCK_ALL:
            for lock in range(LOCKS_PER_BOARD):
                self._pulse(request.board, lock)
        return [self.status_reply(request.board)] if self.answer_unlock else []

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a simulator must outlive its own bugs: log and keep serving
                log.exception("lockboard simulator: error while serving a request")
                self._stop.wait(0.01)

    def _step(self) -> None:
        """Fire due timers, then serve whatever requests arrived (waiting at most until the next timer)."""
        self._run_timers()
        data = self.line.read(self._next_timer_wait(0.02))
        if not data:
            return
        for frame in self.scanner.feed(data):
            if frame[2] not in (CMD_STATUS, CMD_UNLOCK, CMD_STATUS_ALL, CMD_UNLOCK_ALL):
                continue  # another device's reply echoed on the bus
            for reply in self.handle(frame):
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        shaped = self.faults.shape(reply)
        if shaped is None:
            return
        delay, data = shaped
        if self.model_wire_time:
            delay += modelled_wire_time(REQUEST_LEN + len(data), self.baud)
        delay += self.response_delay
        if delay > 0:
            self._stop.wait(delay)
        self.line.write(data)
