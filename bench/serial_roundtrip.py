"""Benchmark: software overhead of the KR-CU16 driver over bare pyserial, against the simulator on a pty.

(a) bare pyserial: write the unlock frame `02 00 31 03 36`, read the 9-byte reply;
(b) the same exchange through `KerongLockerBus.unlock("A1")` (framing, validation, bus lock, decode).
The simulator answers with zero mechanical delay and no modelled wire time, so what is compared is
software; the modelled wire time of each frame is printed so it can be read against the real line.
The simulator runs in its own process (`vendtrack sim lockboard --no-wire-time --response-ms 0`)
so it does not share the interpreter lock with the code being timed; `--in-process` runs it as a
thread instead. (a) and (b) alternate exchange by exchange so drift in machine load hits both alike.

    python bench/serial_roundtrip.py [--rounds 3000] [--in-process]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import serial

from firmware_bridge.coil.codec import ACK_FRAME, POLL_FRAME, encode_dispense_status, encode_drive
from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.kerong.codec import REPLY_LEN, encode_status, encode_status_reply, encode_unlock
from firmware_bridge.sim.lockboard import LockBoardSim
from firmware_bridge.transport.line import wire_time

RATIO_TARGET = 1.10
ADDED_MS_TARGET = 0.3


def bare_round(port: serial.Serial, frame: bytes) -> float:
    start = time.perf_counter()
    port.write(frame)
    reply = port.read(REPLY_LEN)
    elapsed = time.perf_counter() - start
    if len(reply) != REPLY_LEN:
        raise SystemExit(f"bare pyserial got {reply.hex(' ')!r}: the simulator did not answer")
    return elapsed


def driver_round(bus: KerongLockerBus) -> float:
    start = time.perf_counter()
    bus.unlock("A1")
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def simulator(in_process: bool) -> Iterator[str]:
    """Yield the URL of a zero-delay KR-CU16 simulator with one board at address 0."""
    if in_process:
        with LockBoardSim(boards=(0,), model_wire_time=False, response_delay=0.0, unlock_delay=3600) as sim:
            yield sim.url
        return
    with tempfile.TemporaryDirectory() as tmp:
        link = str(Path(tmp) / "cu16")
        code = "from firmware_bridge.sim.lockboard_cli import command; command()"
        options = ["--link", link, "--no-wire-time", "--response-ms", "0", "--unlock-delay", "3600"]
        proc = subprocess.Popen([sys.executable, "-c", code, *options], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().strip()
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000, help="exchanges per variant (default 3000)")
    parser.add_argument("--in-process", action="store_true", help="run the simulator as a thread of this process")
    args = parser.parse_args()
    frame = encode_unlock(0, 0)
    with simulator(args.in_process) as url:
        port = serial.serial_for_url(url, baudrate=19200, timeout=1.0)
        bus = KerongLockerBus.from_config(
            {"port": url, "boards": [0], "slots": {"A1": [0, 0]}, "turnaround_ms": 0, "response_budget_ms": 500}
        )
        for _ in range(200):  # warm-up: page in code paths, open the driver's port
            bare_round(port, frame)
            driver_round(bus)
        bare: list[float] = []
        driver: list[float] = []
        for _ in range(args.rounds):  # strictly alternating, so load changes hit both variants alike
            bare.append(bare_round(port, frame))
            driver.append(driver_round(bus))
        port.close()
        bus.close()
    a_med, b_med = statistics.median(bare), statistics.median(driver)
    ratio = b_med / a_med
    added_ms = (b_med - a_med) * 1000
    where = "a thread of this process" if args.in_process else "its own process"
    print(f"simulator: KR-CU16 on a pty in {where}, zero mechanical delay, no modelled wire time")
    print("driver config: turnaround_ms=0 (a pty has no transceiver to turn around), status-reply unlocks")
    print(
        f"(a) bare pyserial write+read  n={len(bare)}  median={a_med * 1e3:.4f} ms  "
        f"p99={percentile(bare, 0.99) * 1e3:.4f} ms"
    )
    print(
        f"(b) KerongLockerBus.unlock    n={len(driver)}  median={b_med * 1e3:.4f} ms  "
        f"p99={percentile(driver, 0.99) * 1e3:.4f} ms"
    )
    print(f"ratio b/a (medians) = {ratio:.3f}; added per transaction = {added_ms:.4f} ms")
    print("modelled wire time per frame (8N1, 10 bits per character):")
    frames = {
        "kerong unlock request (5 B)": frame,
        "kerong status request (5 B)": encode_status(0),
        "kerong status reply (9 B)": encode_status_reply(0, 0xFFFF, 0xFFFF),
        "vmc POLL (5 B)": POLL_FRAME,
        "vmc ACK (5 B)": ACK_FRAME,
        "vmc drive selection (10 B)": encode_drive(1, 12),
        "vmc dispense status (9 B)": encode_dispense_status(1, 2, 12),
    }
    for name, data in frames.items():
        at_19200, at_57600 = wire_time(len(data), 19200) * 1e3, wire_time(len(data), 57600) * 1e3
        print(f"  {name:<30} 19200 baud: {at_19200:.3f} ms   57600 baud: {at_57600:.3f} ms")
    exchange = wire_time(len(frame) + REPLY_LEN, 19200) * 1e3
    print(f"  unlock exchange on a real 19200 line: {exchange:.3f} ms of wire time alone")
    ratio_ok, added_ok = ratio <= RATIO_TARGET, added_ms <= ADDED_MS_TARGET
    print(
        f"targets: ratio={ratio:.3f} (<=1.10) {'met' if ratio_ok else 'missed'}; "
        f"added_ms={added_ms:.3f} (<=0.3) {'met' if added_ok else 'missed'}"
    )
    return 0 if ratio_ok and added_ok else 1


if __name__ == "__main__":
    sys.exit(main())
