"""Benchmark: how long one full door poll (`door_states()`) takes, i.e. the shortest door opening a poll can see.

Kerong KR-CU16 (19200 baud, one 0x30 read per board) and the 0x8A/0x80 XOR boards (9600 baud, one read-all
per board) against their simulators on a pty, with the wire time of every frame modelled and the board's own
answer time set by --response-ms. A door opened and closed again within one cycle can be missed by polling;
docs/hardware.md quotes these figures.

    python bench/door_poll.py [--polls 200] [--response-ms 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from firmware_bridge.kerong import KerongLockerBus
from firmware_bridge.sim.lockboard import LockBoardSim
from firmware_bridge.sim.xorboard import XorBoardSim
from firmware_bridge.xorboard import XorBoardLockerBus


def _cycle(bus: KerongLockerBus | XorBoardLockerBus, polls: int) -> tuple[float, float]:
    bus.door_states()  # open the port, warm up
    times = []
    for _ in range(polls):
        start = time.perf_counter()
        bus.door_states()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--response-ms", type=float, default=2.0)
    args = parser.parse_args()
    delay = args.response_ms / 1000.0
    print(f"board answer time {args.response_ms:g} ms, wire time modelled, {args.polls} polls each")
    with tempfile.TemporaryDirectory() as tmp:
        for boards in (1, 4):
            ids = tuple(range(boards))
            with LockBoardSim(boards=ids, link=str(Path(tmp) / f"k{boards}"), response_delay=delay) as sim:
                kerong = KerongLockerBus.from_config({"port": sim.url, "boards": list(ids)})
                median, p99 = _cycle(kerong, args.polls)
                print(
                    f"kerong   {boards} board(s) x 16 locks @19200: poll median {median * 1000:6.1f} ms, "
                    f"p99 {p99 * 1000:6.1f} ms (wire floor {kerong.poll_cycle_floor() * 1000:.1f} ms)"
                )
                kerong.close()
            xids = tuple(range(1, boards + 1))
            with XorBoardSim(boards=xids, link=str(Path(tmp) / f"x{boards}"), response_delay=delay) as xsim:
                xor = XorBoardLockerBus.from_config({"port": xsim.url, "boards": list(xids)})
                median, p99 = _cycle(xor, args.polls)
                print(
                    f"xorboard {boards} board(s) x 24 locks @9600:  poll median {median * 1000:6.1f} ms, "
                    f"p99 {p99 * 1000:6.1f} ms (wire floor {xor.poll_cycle_floor() * 1000:.1f} ms)"
                )
                xor.close()


if __name__ == "__main__":
    main()
