"""Host side of the VMC ↔ host protocol as a `CoilController`: answer every POLL, drive selections, report outcomes.

The controller (VMC) starts every exchange: it POLLs every 200 ms and the host must answer within
100 ms, with an ACK or with its pending command; the VMC ACKs the command. Data the VMC sends
(dispense status, selection status) is ACKed by the host. A background reader thread does all the
answering. An unacknowledged command is resent at the next POLL with the *same* packet number (so
the VMC can recognise the resend); a VMC packet seen twice (our ACK was lost) is ignored the
second time. Together these make sure a resend never vends twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.coil.codec import (
    ACK,
    ACK_FRAME,
    DISPENSE_STATUS,
    POLL,
    SELECTION_STATUS,
    CoilFrame,
    CoilScanner,
    DispenseReport,
    SelectionReport,
    decode,
    dispense_report,
    encode_check,
    encode_drive,
    selection_report,
)
from firmware_bridge.coil.config import CoilConfig
from firmware_bridge.errors import BusOffline, FrameError
from firmware_bridge.protocols import SelectionHealth, VendOutcome, VendStatus
from firmware_bridge.transport.serial_port import SerialTransport

log = logging.getLogger(__name__)
Report = DispenseReport | SelectionReport


@dataclass
class _Outgoing:
    frame: bytes
    selection: int
    sends: int = 0
    acked: bool = False
    failed: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class CoilDriver:
    """Implements `firmware_bridge.protocols.CoilController`. Call `close()` to stop the reader thread."""

    def __init__(
        self,
        config: CoilConfig,
        transport: SerialTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.config = config
        self.transport = transport or SerialTransport(config.line, name=f"coil@{config.line.url}")
        self.scanner = CoilScanner(f"coil@{config.line.url}")
        self._monotonic = monotonic
        self._state = threading.Lock()
        self._vend_lock = threading.Lock()
        self._outgoing: _Outgoing | None = None
        self._reports: queue.Queue[Report] = queue.Queue()
        self._last_vmc_packet: tuple[int, int | None, bytes] | None = None
        self._packet_no = 0
        self._last_poll = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls_answered = 0
        self.resends = 0
        self.duplicates_ignored = 0
        if start:
            self.start()

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> CoilDriver:
        return cls(CoilConfig.from_config(raw))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"coil-reader@{self.config.line.url}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        self.transport.close()

    @property
    def online(self) -> bool:
        return self._monotonic() - self._last_poll < self.config.offline_after

    @property
    def bad_frames(self) -> int:
        return self.scanner.bad_frames

    # -- CoilController -------------------------------------------------------------------------------
    def vend(self, selection: int) -> VendOutcome:
        """Drive one selection and wait for its final dispense status (success, jam, no motor, ...)."""
        with self._vend_lock:
            if not self._wait_online():
                return VendOutcome(selection, VendStatus.OFFLINE, self._offline_detail())
            out = self._submit(self._drive_frame(selection), selection)
            deadline = self._monotonic() + self.config.vend_timeout
            started = False
            while (remaining := deadline - self._monotonic()) > 0:
                try:
                    report = self._reports.get(timeout=min(remaining, 0.1))
                except queue.Empty:
                    if not started and not self.online and self._withdraw(out):
                        return VendOutcome(selection, VendStatus.OFFLINE, "nothing sent: " + self._offline_detail())
                    if not started and out.failed:
                        return VendOutcome(
                            selection,
                            VendStatus.OFFLINE if not self.online else VendStatus.TIMEOUT,
                            f"the controller never acknowledged the drive command ({out.sends} sends)",
                        )
                    continue
                if not isinstance(report, DispenseReport) or report.selection != selection:
                    continue
                final = report.final
                if final is None:
                    started = True
                    continue
                return VendOutcome(selection, final, f"dispense status 0x{report.status:02x}")
            self._abandon(out)
            return VendOutcome(
                selection,
                VendStatus.TIMEOUT,
                f"no final dispense status within {self.config.vend_timeout:g} s "
                f"({'motor started' if started else 'motor never reported starting'})",
            )

    def selection_status(self, selection: int) -> SelectionHealth:
        with self._vend_lock:
            if not self._wait_online():
                return SelectionHealth.UNKNOWN
            out = self._submit(encode_check(self._next_packet_no(), selection), selection)
            deadline = self._monotonic() + self.config.status_timeout
            while (remaining := deadline - self._monotonic()) > 0:
                try:
                    report = self._reports.get(timeout=min(remaining, 0.1))
                except queue.Empty:
                    if out.failed:
                        break
                    continue
                if isinstance(report, SelectionReport) and report.selection == selection:
                    return report.health
            self._abandon(out)
            return SelectionHealth.UNKNOWN

    # -- commands ------------------------------------------------------------------------------------------------
    def _drive_frame(self, selection: int) -> bytes:
        return encode_drive(self._next_packet_no(), selection, self.config.drop_sensor, self.config.elevator)

    def _next_packet_no(self) -> int:
        self._packet_no = self._packet_no % 255 + 1
        return self._packet_no

    def _submit(self, frame: bytes, selection: int) -> _Outgoing:
        while True:  # drop reports left over from an earlier, abandoned command
            try:
                self._reports.get_nowait()
            except queue.Empty:
                break
        out = _Outgoing(frame, selection)
        with self._state:
            self._outgoing = out
        return out

    def _withdraw(self, out: _Outgoing) -> bool:
        """Take back a command that was never put on the line (so it can never be sent later)."""
        with self._state:
            if self._outgoing is out and out.sends == 0:
                self._outgoing = None
                return True
            return False

    def _abandon(self, out: _Outgoing) -> None:
        with self._state:
            if self._outgoing is out:
                self._outgoing = None

    def _wait_online(self) -> bool:
        deadline = self._monotonic() + self.config.offline_after
        while not self.online:
            if self._monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(0.02)
        return True

    def _offline_detail(self) -> str:
        return (
            f"no POLL from the controller on {self.config.line.url} for over {self.config.offline_after:g} s; "
            "check the RS-232 cable, the port URL and that the machine is powered"
        )

    # -- the reader thread ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.transport.read_available(0.1)
                for raw in self.scanner.feed(data) if data else ():
                    try:
                        self._handle(decode(raw))
                    except FrameError as exc:  # valid XOR but a text too short for its command: noise
                        self.scanner.bad_frames += 1
                        log.warning("coil: dropped a frame: %s", exc)
            except BusOffline:
                self.scanner.reset()
                self._stop.wait(0.05)

    def _handle(self, frame: CoilFrame) -> None:
        if frame.command == POLL:
            self._last_poll = self._monotonic()
            self._answer_poll()
        elif frame.command == ACK:
            with self._state:
                out = self._outgoing
                if out is not None and out.sends:
                    out.acked = True
                    out.done.set()
                    self._outgoing = None
        else:
            self.transport.write(ACK_FRAME)  # every VMC data packet is ACKed, duplicates too
            self._on_data(frame)

    def _answer_poll(self) -> None:
        with self._state:
            out = self._outgoing
            if out is not None and out.sends > self.config.max_resends:
                out.failed = True
                out.done.set()
                self._outgoing = out = None
            if out is not None:
                out.sends += 1
                if out.sends > 1:
                    self.resends += 1
                data = out.frame
            else:
                data = ACK_FRAME
        self.transport.write(data)
        self.polls_answered += 1

    def _on_data(self, frame: CoilFrame) -> None:
        key = (frame.command, frame.packet_no, frame.text)
        if key == self._last_vmc_packet:
            self.duplicates_ignored += 1
            return
        self._last_vmc_packet = key
        if frame.command == DISPENSE_STATUS:
            report: Report = dispense_report(frame)
        elif frame.command == SELECTION_STATUS:
            report = selection_report(frame)
        else:
            log.debug("coil: ignoring VMC command 0x%02x", frame.command)
            return
        with self._state:  # a report about our selection proves the command arrived: stop resending it
            out = self._outgoing
            if out is not None and out.sends and out.selection == report.selection:
                out.acked = True
                out.done.set()
                self._outgoing = None
        self._reports.put(report)
