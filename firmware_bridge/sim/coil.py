"""A simulated coil vending controller (VMC side of the VMC ↔ host protocol) on a pty or TCP port.

It polls every `poll_interval`, expects an answer within `answer_window`, ACKs host commands,
turns motors (`vend_time`), reports dispense status as data packets that it resends (same packet
number, up to 5 times) until the host ACKs them, and ignores a resent command with a packet
number it has already executed. Start it in-process::

    with CoilMachineSim(link=str(tmp / "vmc")) as sim:
        sim.set_outcome(12, "jam")
        sim.lose_next_acks = 1           # the host's drive command goes unacknowledged once
        driver = CoilDriver.from_config({"port": sim.url})
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from firmware_bridge.coil.codec import (
    ACK,
    ACK_FRAME,
    CHECK_SELECTION,
    DISPENSING,
    DRIVE_SELECTION,
    POLL_FRAME,
    CoilFrame,
    CoilScanner,
    check_request,
    decode,
    drive_request,
    encode_dispense_status,
    encode_selection_status,
)
from firmware_bridge.errors import FrameError
from firmware_bridge.sim import Faults, VirtualLine, modelled_wire_time
from firmware_bridge.sim.device import SimulatedSerialDevice

log = logging.getLogger(__name__)
OUTCOMES = {"success": 0x02, "jam": 0x03, "motor_did_not_stop": 0x04, "no_motor": 0x06, "terminated": 0xFF}


@dataclass
class SimSelection:
    outcome: int = 0x02  # final dispense status reported when driven
    paused: bool = False
    runs: int = 0  # motor runs actually performed (the "no double vend" counter)


class CoilMachineSim(SimulatedSerialDevice):
    """The VMC of a spiral machine. Thread-safe Python API for tests and the demo."""

    thread_name = "coil-sim"

    def __init__(
        self,
        selections: Iterable[int] = range(1, 61),
        *,
        tcp: tuple[str, int] | None = None,
        link: str | None = None,
        baud: int = 57600,
        model_wire_time: bool = True,
        poll_interval: float = 0.2,
        answer_window: float = 0.1,
        vend_time: float = 0.3,
        start_delay: float = 0.02,
        faults: Faults | None = None,
    ) -> None:
        self.selections = {s: SimSelection() for s in selections}
        self.baud = baud
        self.model_wire_time = model_wire_time
        self.poll_interval = poll_interval
        self.answer_window = answer_window
        self.vend_time = vend_time
        self.start_delay = start_delay
        self.faults = faults or Faults()
        self.lose_next_acks = 0  # our next N ACKs to host commands are lost on the wire
        self.ignore_host_acks = 0  # the next N host ACKs of our data packets are lost: we resend
        super().__init__(VirtualLine(tcp=tcp, link=link))
        self.scanner = CoilScanner("coil-sim")
        self.polls_sent = 0
        self.polls_unanswered = 0
        self.duplicate_commands = 0
        self.data_resends = 0
        self._outbox: list[bytes] = []
        self._sends = 0
        self._packet_no = 0
        self._last_host_packet: tuple[int, int] | None = None

    # -- scripting ------------------------------------------------------------------------------------------------
    def set_outcome(self, selection: int, outcome: str) -> None:
        """What the next drives of `selection` report: success, jam, motor_did_not_stop, no_motor, terminated."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
        with self._lock:
            self.selections.setdefault(selection, SimSelection()).outcome = OUTCOMES[outcome]

    def runs(self, selection: int) -> int:
        with self._lock:
            return self.selections[selection].runs if selection in self.selections else 0

    # -- the VMC ----------------------------------------------------------------------------------------------------
    def _next_packet_no(self) -> int:
        self._packet_no = self._packet_no % 255 + 1
        return self._packet_no

    def _report(self, status: int, selection: int) -> None:
        with self._lock:
            self._outbox.append(encode_dispense_status(self._next_packet_no(), status, selection))

    def _execute(self, frame: CoilFrame) -> None:
        key = (frame.command, frame.packet_no or 0)
        if key == self._last_host_packet:
            self.duplicate_commands += 1  # a resend of a command we already carried out: ACK, do nothing
            return
        self._last_host_packet = key
        if frame.command == DRIVE_SELECTION:
            selection = drive_request(frame).selection
            with self._lock:
                state = self.selections.get(selection)
                if state is None or state.outcome == OUTCOMES["no_motor"]:
                    self._report(OUTCOMES["no_motor"], selection)
                    return
                state.runs += 1
                outcome = state.outcome
            self.after(self.start_delay, lambda: self._report(DISPENSING, selection))
            self.after(self.vend_time, lambda: self._report(outcome, selection))
        elif frame.command == CHECK_SELECTION:
            _, selection = check_request(frame)
            with self._lock:
                state = self.selections.get(selection)
                status = 0x03 if state is None or state.outcome == OUTCOMES["no_motor"] else 0x04 if state.paused else 1
                self._outbox.append(encode_selection_status(self._next_packet_no(), status, selection))

    def _run(self) -> None:
        next_cycle = time.monotonic()
        while not self._stop.is_set():
            try:
                self._cycle()
            except Exception:  # a simulator must outlive its own bugs: log and keep polling
                log.exception("coil simulator: error in a poll cycle")
            next_cycle += self.poll_interval
            delay = next_cycle - time.monotonic()
            if delay < 0:
                next_cycle = time.monotonic()
            else:
                self._stop.wait(delay)

    def _cycle(self) -> None:
        """One exchange: a pending data packet (until ACKed, at most 6 sends) or a POLL, and the host's answer."""
        self._run_timers()
        with self._lock:
            pending = self._outbox[0] if self._outbox else None
        if pending is not None:
            self._send(pending)
            reply = self._await_reply()
            acked = reply is not None and reply.command == ACK
            if acked and self.ignore_host_acks:
                self.ignore_host_acks -= 1
                acked = False
            self._sends += 1
            if acked or self._sends > 5:
                with self._lock:
                    self._outbox.pop(0)
                self._sends = 0
            else:
                self.data_resends += 1
        else:
            self._send(POLL_FRAME)
            self.polls_sent += 1
            reply = self._await_reply()
            if reply is None:
                self.polls_unanswered += 1
            elif reply.command != ACK:
                self._execute_safely(reply)

    def _execute_safely(self, frame: CoilFrame) -> None:
        try:
            self._execute(frame)
        except FrameError:
            return  # malformed command: a real VMC stays silent and the host resends
        if self.lose_next_acks:
            self.lose_next_acks -= 1
            return
        self._send(ACK_FRAME)

    def _await_reply(self) -> CoilFrame | None:
        deadline = time.monotonic() + self.answer_window
        while (remaining := deadline - time.monotonic()) > 0 and not self._stop.is_set():
            data = self.line.read(remaining)
            for raw in self.scanner.feed(data) if data else ():
                try:
                    return decode(raw)
                except FrameError:
                    continue
        self.scanner.reset()
        return None

    def _send(self, frame: bytes) -> None:
        shaped = self.faults.shape(frame)
        if shaped is None:
            return
        delay, data = shaped
        if self.model_wire_time:
            delay += modelled_wire_time(len(data), self.baud)
        if delay > 0:
            self._stop.wait(delay)
        self.line.write(data)
