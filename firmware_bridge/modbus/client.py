"""One Modbus bus (RTU or TCP) shared by every device on it: one lock, the RTU gap, retries, reconnect, errors.

Built on pymodbus' synchronous clients with their own retries switched off: this class decides when to retry,
when to reconnect (with a doubling backoff) and how a failure is named. Exception replies become
`ModbusRefused` (a `DeviceRefused`) naming device, function and register; silence becomes `DeviceTimeout`;
a port or socket that cannot be opened becomes `BusOffline`.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from firmware_bridge.errors import BusOffline, DeviceRefused, DeviceTimeout
from firmware_bridge.modbus.config import BusConfig
from firmware_bridge.modbus.rtu import EXCEPTION_HINTS, EXCEPTION_NAMES, FUNCTION_NAMES

# One module-level function per request (no closure per call: this sits on the polling hot path).
Operation = Callable[[Any, int, Any, int], Any]


def _read_coils(client: Any, address: int, count: Any, device_id: int) -> Any:
    return client.read_coils(address, count=count, device_id=device_id)


def _read_inputs(client: Any, address: int, count: Any, device_id: int) -> Any:
    return client.read_discrete_inputs(address, count=count, device_id=device_id)


def _read_holding(client: Any, address: int, count: Any, device_id: int) -> Any:
    return client.read_holding_registers(address, count=count, device_id=device_id)


def _read_input_registers(client: Any, address: int, count: Any, device_id: int) -> Any:
    return client.read_input_registers(address, count=count, device_id=device_id)


def _write_coils(client: Any, address: int, bits: Any, device_id: int) -> Any:
    return client.write_coils(address, bits, device_id=device_id)


def _write_register(client: Any, address: int, value: Any, device_id: int) -> Any:
    return client.write_register(address, value, device_id=device_id)


def _write_registers(client: Any, address: int, words: Any, device_id: int) -> Any:
    return client.write_registers(address, words, device_id=device_id)


def _write_coil_value(client: Any, address: int, value: Any, device_id: int) -> Any:
    return client.execute(False, RawWriteCoilRequest(address, value, dev_id=device_id))


def _describe(function: int, address: int) -> str:
    return f"{FUNCTION_NAMES[function]} (function 0x{function:02X}) at 0x{address:04X}"


class ModbusRefused(DeviceRefused):
    """A Modbus exception reply; carries what was asked so callers can act on it."""

    def __init__(self, message: str, device_id: int, function_code: int, address: int, exception_code: int) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.function_code = function_code
        self.address = address
        self.exception_code = exception_code


class RawWriteCoilRequest(ModbusPDU):
    """Function 05 with any 16-bit value: Waveshare's flash-on/flash-off commands put a delay there."""

    function_code = 5
    rtu_frame_size = 8

    def __init__(self, address: int = 0, value: int = 0, dev_id: int = 0, transaction_id: int = 0) -> None:
        super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
        self.value = value

    def encode(self) -> bytes:
        return struct.pack(">HH", self.address, self.value)

    def decode(self, data: bytes) -> None:
        self.address, self.value = struct.unpack(">HH", data[:4])


class ModbusBus:
    """A Modbus master on one port. Thread-safe: every request holds the bus lock for its whole exchange."""

    _shared: ClassVar[dict[BusConfig, ModbusBus]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: BusConfig, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._monotonic = monotonic
        self._lock = threading.Lock()  # held for a whole exchange; nothing inside takes it again
        self._gap = 0.0 if config.is_tcp else config.timing.inter_frame_gap
        self._quiet_until = 0.0  # RTU: no frame may start before this
        self._next_connect_at = 0.0
        self._backoff = config.reconnect_min
        self._client: ModbusTcpClient | ModbusSerialClient | None = None
        self.reconnects = 0  # successful connects after the first
        self._ever_connected = False

    @classmethod
    def shared(cls, config: BusConfig) -> ModbusBus:
        """The one bus object for these settings, so a relay board and a scale on one RS-485 line share a lock."""
        with cls._shared_lock:
            bus = cls._shared.get(config)
            if bus is None:
                bus = cls._shared[config] = cls(config)
            return bus

    # -- reads and writes -----------------------------------------------------------------------------------
    def read_coils(self, device_id: int, address: int, count: int) -> list[bool]:
        return self._call(device_id, 0x01, address, count, _read_coils).bits[:count]

    def read_discrete_inputs(self, device_id: int, address: int, count: int) -> list[bool]:
        return self._call(device_id, 0x02, address, count, _read_inputs).bits[:count]

    def read_holding_registers(self, device_id: int, address: int, count: int) -> list[int]:
        return list(self._call(device_id, 0x03, address, count, _read_holding).registers[:count])

    def read_input_registers(self, device_id: int, address: int, count: int) -> list[int]:
        return list(self._call(device_id, 0x04, address, count, _read_input_registers).registers[:count])

    def write_coils(self, device_id: int, address: int, values: Sequence[bool]) -> None:
        self._call(device_id, 0x0F, address, list(values), _write_coils)

    def write_register(self, device_id: int, address: int, value: int) -> None:
        self._call(device_id, 0x06, address, value, _write_register)

    def write_registers(self, device_id: int, address: int, values: Sequence[int]) -> None:
        self._call(device_id, 0x10, address, list(values), _write_registers)

    def write_coil_value(self, device_id: int, address: int, value: int) -> None:
        """Function 05 with a raw 16-bit value; checks that the echo names the same coil."""
        reply = self._call(device_id, 0x05, address, value, _write_coil_value)
        if reply.address != address:
            raise DeviceRefused(
                f"device {device_id} on {self.config.url} echoed coil 0x{reply.address:04X} to a write of "
                f"coil 0x{address:04X}; check that nothing else is transmitting on the bus"
            )

    # -- lifecycle -------------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    # -- the exchange ----------------------------------------------------------------------------------------
    def _call(self, device_id: int, function: int, address: int, arg: Any, operation: Operation) -> Any:
        with self._lock:
            client = self._client
            if client is not None and not self._gap and client.connected:  # the common case, kept lean
                try:
                    reply = operation(client, address, arg, device_id)
                except ModbusException as exc:
                    return self._retry(
                        device_id, function, address, arg, operation, self._failure(exc, device_id, function, address)
                    )
                if reply.isError():
                    raise self._refused(reply, device_id, function, address)
                return reply
            return self._retry(device_id, function, address, arg, operation, None)

    def _retry(
        self, device_id: int, function: int, address: int, arg: Any, operation: Operation, failure: Exception | None
    ) -> Any:
        """Attempts left after `failure` (all of them when None): connect, keep the RTU gap, send, map errors."""
        attempts = self.config.retries + (1 if failure is None else 0)
        for _attempt in range(attempts):
            client = self._connected_client()
            if self._gap:
                wait = self._quiet_until - self._monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                reply = operation(client, address, arg, device_id)
            except ModbusException as exc:
                failure = self._failure(exc, device_id, function, address)
                continue
            finally:
                if self._gap:
                    self._quiet_until = self._monotonic() + self._gap
            if reply.isError():
                raise self._refused(reply, device_id, function, address)
            return reply
        assert failure is not None
        raise failure

    def _failure(self, exc: ModbusException, device_id: int, function: int, address: int) -> Exception:
        """Name a failed exchange, and drop the connection where a late reply could be mistaken for the next."""
        what = _describe(function, address)
        failure: Exception
        if isinstance(exc, ConnectionException):
            self._drop()
            failure = BusOffline(f"{self.config.url}: connection lost during {what} to device {device_id}")
        elif isinstance(exc, ModbusIOException):
            if self.config.is_tcp:
                self._drop()
            failure = DeviceTimeout(
                f"device {device_id} on {self.config.url} did not answer {what} within "
                f"{self.config.timeout:g} s; check its id, power and wiring"
            )
        else:
            self._drop()
            failure = BusOffline(f"{self.config.url}: {exc} during {what} to device {device_id}")
        failure.__cause__ = exc
        return failure

    def _refused(self, reply: Any, device_id: int, function: int, address: int) -> ModbusRefused:
        code = int(getattr(reply, "exception_code", 0))
        return ModbusRefused(
            f"device {device_id} on {self.config.url} refused {_describe(function, address)}: exception {code} "
            f"({EXCEPTION_NAMES.get(code, 'unknown')}); {EXCEPTION_HINTS.get(code, 'see the device manual')}",
            device_id,
            function,
            address,
            code,
        )

    def _connected_client(self) -> ModbusTcpClient | ModbusSerialClient:
        if self._client is not None and self._client.connected:
            return self._client
        now = self._monotonic()
        if now < self._next_connect_at:
            raise BusOffline(f"{self.config.url} is not reachable; next attempt in {self._next_connect_at - now:.1f} s")
        client = self._make_client()
        if not client.connect():
            client.close()
            self._next_connect_at = now + self._backoff
            self._backoff = min(max(self._backoff * 2, self.config.reconnect_min), self.config.reconnect_max)
            raise BusOffline(
                f"cannot open {self.config.url}; check that the device or gateway is powered and the "
                f"address is right (retrying with backoff, next in {self._next_connect_at - now:.1f} s)"
            )
        self._backoff = self.config.reconnect_min
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self._client = client
        return client

    def _make_client(self) -> ModbusTcpClient | ModbusSerialClient:
        cfg = self.config
        if cfg.is_tcp:
            host, port = cfg.host_port
            return ModbusTcpClient(host, port=port, timeout=cfg.timeout, retries=0, reconnect_delay=0)
        return ModbusSerialClient(
            cfg.url,
            baudrate=cfg.baudrate,
            parity=cfg.parity,
            bytesize=cfg.bytesize,
            stopbits=cfg.stopbits,
            timeout=cfg.timeout,
            retries=0,
            reconnect_delay=0,
        )

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
