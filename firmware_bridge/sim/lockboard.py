"""A simulated bus of Kerong KR-CU16 lock boards speaking the real frames on a pty or TCP port.

Doors pop open `unlock_delay` after an unlock pulse (unless the lock is stuck), a scripted person
takes items and closes doors, and `faults` shapes every reply. Start it in-process::

    with LockBoardSim(boards=(0, 1), link=str(tmp / "cu16")) as sim:
        bus = KerongLockerBus.from_config({"port": sim.url, "boards": [0, 1]})
        sim.faults.drop_next = 1          # lose the next reply
        sim.person_closes(0, 3, after=0.5)
"""

from __future__ import annotations

from collections.abc import Iterable

from firmware_bridge.kerong.codec import (
    BROADCAST,
    CMD_STATUS,
    CMD_STATUS_ALL,
    CMD_UNLOCK,
    CMD_UNLOCK_ALL,
    LOCKS_PER_BOARD,
    REPLY_STATUS,
    REPLY_STATUS_ALL,
    KerongScanner,
    decode_request,
    encode_status_reply,
)
from firmware_bridge.sim import Faults
from firmware_bridge.sim.lockbank import LockBankSim, SimLock

__all__ = ["LockBoardSim", "SimLock"]


class LockBoardSim(LockBankSim):
    """One RS-485 bus with KR-CU16 boards at `boards` addresses (locks 0..15). Thread-safe Python API."""

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
        super().__init__(
            boards,
            range(LOCKS_PER_BOARD),
            KerongScanner("lockboard-sim"),
            tcp=tcp,
            link=link,
            baud=baud,
            model_wire_time=model_wire_time,
            response_delay=response_delay,
            unlock_delay=unlock_delay,
            close_after=close_after,
            take_item=take_item,
            faults=faults,
        )
        self.answer_unlock = answer_unlock
        self.hook_set_closed = hook_set_closed
        self.sensor_set_present = sensor_set_present

    def status_reply(self, board: int, command: int = REPLY_STATUS) -> bytes:
        hooks = sensors = 0
        with self._lock:
            for i, state in self.boards[board].items():
                if (not state.door_open) == self.hook_set_closed:
                    hooks |= 1 << i
                if state.item_present == self.sensor_set_present:
                    sensors |= 1 << i
        return encode_status_reply(board, hooks, sensors, command)

    def is_request(self, frame: bytes) -> bool:
        return frame[2] in (CMD_STATUS, CMD_UNLOCK, CMD_STATUS_ALL, CMD_UNLOCK_ALL)

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
            self.pulse(request.board, request.lock)
        elif request.command == CMD_UNLOCK_ALL:
            for lock in range(LOCKS_PER_BOARD):
                self.pulse(request.board, lock)
        return [self.status_reply(request.board)] if self.answer_unlock else []
