"""Door-input polling of 8 simulated relay boards over TCP loopback: a bare pymodbus loop vs our driver.

Prints polls/s for (a) a plain pymodbus client reading each board's 8 discrete inputs and (b) the same polls
through RelayBoardLocker.door_states() (bus lock, retries, error mapping, slot mapping), the ratio b/a, and
the modelled cycle time of the same 8 polls on a real RS-485 line at 9600 8N1. Rounds alternate a and b so
drift on the machine hits both alike. Run: python bench/modbus_poll.py [--seconds 4]
"""

from __future__ import annotations

import argparse
import sys
import time

from pymodbus.client import ModbusTcpClient

from firmware_bridge.modbus.client import ModbusBus
from firmware_bridge.modbus.relay_locker import RelayBoardLocker, RelayLockerConfig
from firmware_bridge.modbus.rtu import LineTiming
from firmware_bridge.sim.relayboard import RelayBoardSimulator

BOARDS = 8
TARGET = 0.9


def bare_round(client: ModbusTcpClient, seconds: float) -> tuple[int, float]:
    polls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for device_id in range(1, BOARDS + 1):
            reply = client.read_discrete_inputs(0, count=8, device_id=device_id)
            if reply.isError():
                raise SystemExit(f"bare client: board {device_id} answered {reply}")
            polls += 1
    return polls, time.perf_counter() - start


def driver_round(locker: RelayBoardLocker, seconds: float) -> tuple[int, float]:
    polls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        states = locker.door_states()
        if locker.last_errors:
            raise SystemExit(f"driver: {locker.last_errors}")
        polls += BOARDS
        del states
    return polls, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per side")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()

    sim = RelayBoardSimulator(device_ids=range(1, BOARDS + 1))
    address = sim.start_tcp("127.0.0.1", 0)
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
        per_round = args.seconds / args.rounds
        bare_round(client, 0.2)  # warm-up, both sides
        driver_round(locker, 0.2)
        a_polls = b_polls = 0
        a_time = b_time = 0.0
        for _ in range(args.rounds):
            n, t = bare_round(client, per_round)
            a_polls, a_time = a_polls + n, a_time + t
            n, t = driver_round(locker, per_round)
            b_polls, b_time = b_polls + n, b_time + t
    finally:
        client.close()
        locker.close()
        sim.stop()

    a_rate = a_polls / a_time
    b_rate = b_polls / b_time
    ratio = b_rate / a_rate
    line = LineTiming(9600)
    request_bytes, reply_bytes = 8, 6  # read 8 discrete inputs: 8-byte request, 6-byte reply (1 data byte)
    per_poll = line.poll_cycle(request_bytes, reply_bytes)
    print(f"boards: {BOARDS} on TCP loopback (vendtrack relayboard simulator), 8 door inputs each")
    print(f"(a) bare pymodbus client loop: {a_rate:,.0f} polls/s ({a_polls} polls in {a_time:.2f} s)")
    print(f"(b) RelayBoardLocker.door_states: {b_rate:,.0f} polls/s ({b_polls} polls in {b_time:.2f} s)")
    print(f"ratio b/a: {ratio:.3f}")
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
