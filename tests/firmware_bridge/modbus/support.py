"""Test helpers for the Modbus tests: free ports, a socat pty pair, and pymodbus' own server in a thread."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.support import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PtyPair:
    """Two linked pseudo-terminals made by socat: whatever is written to one end is read at the other."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("socat") is None:
            raise RuntimeError("socat is needed for the pty pair (apt-get install socat)")
        self.a = str(directory / "ttyA")
        self.b = str(directory / "ttyB")
        self.proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: os.path.exists(self.a) and os.path.exists(self.b), what="socat's pty pair")
        except AssertionError:
            self.close()
            raise

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


def relay_board_device(device_id: int) -> SimDevice:
    """A plain pymodbus datastore laid out like a relay board: 8 relays, flash coils 0x0200-0x0207, 8 inputs."""
    coils = [
        SimData(0, values=[False] * 8, datatype=DataType.BITS),
        SimData(0x0200, values=[False] * 8, datatype=DataType.BITS),
    ]
    inputs = [SimData(0, values=[False] * 8, datatype=DataType.BITS)]
    return SimDevice(
        device_id,
        simdata=(
            coils,
            inputs,
            [SimData(0, count=8, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=8, values=0, datatype=DataType.REGISTERS)],
        ),
    )


def register_device(device_id: int, count: int = 256) -> SimDevice:
    """A plain pymodbus datastore with `count` zeroed holding and input registers."""
    regs = [SimData(0, count=count, values=0, datatype=DataType.REGISTERS)]
    bits = [SimData(0, values=[False] * 8, datatype=DataType.BITS)]
    return SimDevice(
        device_id, simdata=(bits, bits, regs, [SimData(0, count=count, values=0, datatype=DataType.REGISTERS)])
    )


class PymodbusServerThread:
    """pymodbus' own server (an implementation we did not write) on its own event loop thread."""

    def __init__(
        self, devices: Sequence[SimDevice], tcp_port: int | None = None, serial_port: str | None = None
    ) -> None:
        self.devices = list(devices)
        self.tcp_port = tcp_port
        self.serial_port = serial_port
        self.loop = asyncio.new_event_loop()
        self.server: ModbusTcpServer | ModbusSerialServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    async def _start(self) -> None:
        if self.tcp_port is not None:
            self.server = ModbusTcpServer(self.devices, address=("127.0.0.1", self.tcp_port))
        else:
            self.server = ModbusSerialServer(self.devices, port=self.serial_port or "", baudrate=9600)
        await self.server.serve_forever(background=True)

    def set_values(self, device_id: int, function: int, address: int, values: list[int] | list[bool]) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(
            self.server.async_setValues(device_id, function, address, values), self.loop
        ).result(5)

    def get_values(self, device_id: int, function: int, address: int, count: int) -> list[int] | list[bool]:
        assert self.server is not None
        return asyncio.run_coroutine_threadsafe(
            self.server.async_getValues(device_id, function, address, count), self.loop
        ).result(5)

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
