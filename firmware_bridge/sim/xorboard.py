"""A simulated bus of 0x8A/0x80 XOR lock control boards speaking the real frames on a pty or TCP port.

Same doors, person and faults as the Kerong simulator (`LockBankSim`); the reply layout is chosen per run
(channels, status bytes, polarity, bitmap order) so a driver can be tested against each variant the
public sources describe. Start it in-process::

    with XorBoardSim(boards=(1, 2), channels=24, link=str(tmp / "lockctl")) as sim:
        bus = XorBoardLockerBus.from_config({"port": sim.url, "boards": [1, 2]})
        sim.faults.drop_next = 1          # lose the next reply
"""

from __future__ import annotations

from collections.abc import Iterable

from firmware_bridge.sim import Faults
from firmware_bridge.sim.lockbank import LockBankSim
from firmware_bridge.xorboard.codec import (
    ALL_LOCKS,
    FUNC_OF,
    HEAD_READ,
    HEAD_UNLOCK,
    HEADS,
    Polarity,
    XorScanner,
    decode_request,
    encode_bitmap_reply,
    encode_lock_reply,
)
from firmware_bridge.xorboard.config import default_status_bytes


class XorBoardSim(LockBankSim):
    """RS-485 bus with XOR lock boards at `boards` addresses, locks 1..channels. Thread-safe Python API."""

    thread_name = "xorboard-sim"

    def __init__(
        self,
        boards: Iterable[int] = (1,),
        *,
        channels: int = 24,
        status_bytes: int | None = None,
        polarity: Polarity | None = None,
        tcp: tuple[str, int] | None = None,
        link: str | None = None,
        baud: int = 9600,
        model_wire_time: bool = True,
        response_delay: float = 0.002,
        unlock_delay: float = 0.05,
        answer_unlock: bool = True,
        close_after: float | None = None,
        take_item: bool = False,
        faults: Faults | None = None,
    ) -> None:
        super().__init__(
            boards,
            range(1, channels + 1),
            XorScanner("xorboard-sim"),  # requests are always five bytes
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
        self.channels = channels
        self.status_bytes = status_bytes or default_status_bytes(channels)
        self.polarity = polarity or Polarity()
        self.answer_unlock = answer_unlock

    def lock_reply(self, head: int, board: int, lock: int) -> bytes:
        with self._lock:
            door_open = self.boards[board][lock].door_open
        return encode_lock_reply(head, board, lock, self.polarity.state_byte(door_open))

    def bitmap_reply(self, board: int) -> bytes:
        bits = 0
        with self._lock:
            for lock, state in self.boards[board].items():
                if (not state.door_open) == self.polarity.bit_set_closed:
                    bits |= 1 << (lock - 1)
        return encode_bitmap_reply(board, bits, self.status_bytes, self.polarity.high_group_first)

    def is_request(self, frame: bytes) -> bool:
        return frame[0] in HEADS and frame[3] == FUNC_OF[frame[0]]

    def handle(self, frame: bytes) -> list[bytes]:
        """Replies to one request frame (empty for an absent board or a lock the board does not have)."""
        request = decode_request(frame)
        self.requests_seen += 1
        board, lock = request.board, request.lock
        if board not in self.boards or (lock != ALL_LOCKS and lock not in self.boards[board]):
            return []
        if request.head == HEAD_READ:
            return [self.bitmap_reply(board) if lock == ALL_LOCKS else self.lock_reply(HEAD_READ, board, lock)]
        if lock == ALL_LOCKS:
            for each in range(1, self.channels + 1):
                self.pulse(board, each)
            return []  # no public source shows an answer to unlock-all: the driver reads the board after it
        self.pulse(board, lock)
        if not self.answer_unlock:
            return []
        # The board answers with its lock feedback right after the pulse: released ("success", 8A BB LL 00 with
        # the default polarity) unless the lock is stuck ("failure", the same bytes as the request).
        with self._lock:
            released = not self.boards[board][lock].stuck or self.boards[board][lock].door_open
        return [encode_lock_reply(HEAD_UNLOCK, board, lock, self.polarity.state_byte(released))]
