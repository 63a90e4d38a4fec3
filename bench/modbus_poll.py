"""Door-input polling of 8 simulated relay boards over TCP loopback: a bare pymodbus loop vs our driver.

Prints polls/s for (a) a plain pymodbus client reading each board's 8 discrete inputs and (b) the same polls
through RelayBoardLocker.door_states() (bus lock, retries, error mapping, slot mapping), the ratio b/a, and
the modelled cycle time of the same 8 polls on a real RS-485 line at 9600 8N1. The simulator runs in its own
process (`vendtrack sim relayboard`'s command), so it does not share this process' GIL with the masters.
Cycles (8 polls) of a and b alternate and each is timed. Load from other processes only ever adds time, so
the rates (and the ratio) come from the fastest decile of cycle times, as timeit advises taking the minimum;
the median-based rates are printed too. Run: python bench/modbus_poll.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from pymodbus.client import ModbusTcpClient

from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.rtu import LineTiming

BOARDS = 8
TARGET = 0.9


def bare_cycle(client: ModbusTcpClient) -> None:
    for device_id in range(1, BOARDS + 1):
        reply = client.read_discrete_inputs(0, count=8, device_id=device_id)
        if reply.isError():
            raise SystemExit(f"bare client: board {device_id} answered {reply}")


def driver_cycle(locker: RelayBoardLocker) -> None:
    locker.door_states()
    if locker.last_errors:
        raise SystemExit(f"driver: {locker.last_errors}")


def decile(times: list[float]) -> float:
    """The cycle time 10 % of cycles beat: robust to bursts of load that only ever add time."""
    return sorted(times)[len(times) // 10]


def measure(client: ModbusTcpClient, locker: RelayBoardLocker, seconds: float) -> tuple[list[float], list[float]]:
    """Alternate one cycle (8 polls) of each, timing every cycle; returns the cycle times of a and of b."""
    a_times: list[float] = []
    b_times: list[float] = []
    clock = time.perf_counter
    end = clock() + seconds
    while clock() < end:
        t0 = clock()
        bare_cycle(client)
        t1 = clock()
        driver_cycle(locker)
        t2 = clock()
        a_times.append(t1 - t0)
        b_times.append(t2 - t1)
    return a_times, b_times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time, both sides together")
    args = parser.parse_args()

    boards = ",".join(str(i) for i in range(1, BOARDS + 1))
    code = "import sys; from firmware_bridge.sim.relayboard_cli import command; command(sys.argv[1:])"
    sim = subprocess.Popen(
        [sys.executable, "-c", code, "--tcp", "127.0.0.1:0", "--boards", boards],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    address = sim.stdout.readline().strip()
    host, _, port = address.rpartition(":")
    slots = {
        f"B{board}S{ch}": {"device_id": board, "relay": ch, "door_input": ch}
        for board in range(1, BOARDS + 1)
        for ch in range(8)
    }
    config = RelayLockerConfig.from_config({"bus": {"url": f"tcp://{address}", "timeout": 1.0}, "slots": slots})
    locker = RelayBoardLocker(config, ModbusBus(config.bus))
    client = ModbusTcpClient(host, port=int(port), timeout=1.0)
    try:
        if not client.connect():
            raise SystemExit(f"cannot connect to the simulator at {address}")
        if locker.start():
            raise SystemExit("driver: boards did not take the all-off command")
        measure(client, locker, 0.3)  # warm-up
        a_times, b_times = measure(client, locker, args.seconds)
    finally:
        client.close()
        locker.close()
        sim.terminate()
        sim.wait(timeout=10)

    a_rate = BOARDS / decile(a_times)
    b_rate = BOARDS / decile(b_times)
    ratio = b_rate / a_rate
    a_median = BOARDS / statistics.median(a_times)
    b_median = BOARDS / statistics.median(b_times)
    line = LineTiming(9600)
    request_bytes, reply_bytes = 8, 6  # read 8 discrete inputs: 8-byte request, 6-byte reply (1 data byte)
    per_poll = line.poll_cycle(request_bytes, reply_bytes)
    print(f"boards: {BOARDS} on TCP loopback (relayboard simulator in its own process), 8 door inputs each")
    cycles = len(a_times)
    print(f"(a) bare pymodbus client loop: {a_rate:,.0f} polls/s (fastest decile of {cycles} cycles;", end="")
    print(f" median {a_median:,.0f})")
    print(f"(b) RelayBoardLocker.door_states: {b_rate:,.0f} polls/s (fastest decile; median {b_median:,.0f})")
    print(f"ratio b/a: {ratio:.3f} (of the medians: {b_median / a_median:.3f})")
    print(
        f"modelled RTU at 9600 8N1: {request_bytes}+{reply_bytes} bytes x {line.char_time * 1000:.3f} ms"
        f" + t3.5 {line.t35 * 1000:.2f} ms + gap {line.inter_frame_gap * 1000:.2f} ms"
        f" = {per_poll * 1000:.2f} ms per board; 8 boards = {BOARDS * per_poll * 1000:.1f} ms per cycle"
        f" ({1 / (BOARDS * per_poll):.1f} door scans/s, before the boards' own reply latency)"
    )
    met = ratio >= TARGET
    print(f"targets: ratio={ratio:.3f} (>={TARGET}) {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
