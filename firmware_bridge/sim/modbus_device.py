"""The slave side of Modbus PDUs for our simulators: parse a request, call the device model, build the reply.

A simulated board subclasses `SimDevice` and overrides the table accessors it has; anything it does not
override answers exception 1 (illegal function) or 2 (illegal data address) like a real device would.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence


class SlaveException(Exception):
    """Raised by a device model to answer a Modbus exception code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exception {code}")
        self.code = code


ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3


def pack_bits(bits: Sequence[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def unpack_bits(data: bytes, count: int) -> list[bool]:
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


class SimDevice:
    """Base of simulated Modbus devices; thread-safe through `self.lock` (requests and the Python API share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    # Tables a subclass overrides ------------------------------------------------------------------------
    def read_coils(self, address: int, count: int) -> list[bool]:
        raise SlaveException(ILLEGAL_FUNCTION)

    def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        raise SlaveException(ILLEGAL_FUNCTION)

    def read_holding_registers(self, address: int, count: int) -> list[int]:
        raise SlaveException(ILLEGAL_FUNCTION)

    def read_input_registers(self, address: int, count: int) -> list[int]:
        raise SlaveException(ILLEGAL_FUNCTION)

    def write_coil(self, address: int, raw_value: int) -> None:
        """Function 05; `raw_value` is the 16-bit field as sent (0xFF00 on, 0x0000 off, or a vendor value)."""
        raise SlaveException(ILLEGAL_FUNCTION)

    def write_coils(self, address: int, bits: list[bool]) -> None:
        raise SlaveException(ILLEGAL_FUNCTION)

    def write_registers(self, address: int, values: list[int], function: int) -> None:
        raise SlaveException(ILLEGAL_FUNCTION)

    # The PDU layer ---------------------------------------------------------------------------------------
    def handle(self, pdu: bytes) -> bytes:
        """Answer one request PDU (function code + data) with a reply PDU, exception replies included."""
        function = pdu[0] if pdu else 0
        try:
            with self.lock:
                return bytes((function,)) + self._dispatch(function, pdu[1:])
        except SlaveException as exc:
            return bytes((function | 0x80, exc.code))
        except (struct.error, IndexError):
            return bytes((function | 0x80, ILLEGAL_VALUE))

    def _dispatch(self, function: int, data: bytes) -> bytes:
        if function in (0x01, 0x02, 0x03, 0x04):
            address, count = struct.unpack(">HH", data[:4])
            limit = 2000 if function <= 2 else 125
            if not 1 <= count <= limit:
                raise SlaveException(ILLEGAL_VALUE)
            if function in (0x01, 0x02):
                reader = self.read_coils if function == 0x01 else self.read_discrete_inputs
                packed = pack_bits(reader(address, count))
                return bytes((len(packed),)) + packed
            words = (self.read_holding_registers if function == 0x03 else self.read_input_registers)(address, count)
            return bytes((2 * count,)) + struct.pack(f">{count}H", *words)
        if function == 0x05:
            address, value = struct.unpack(">HH", data[:4])
            self.write_coil(address, value)
            return data[:4]
        if function == 0x06:
            address, value = struct.unpack(">HH", data[:4])
            self.write_registers(address, [value], 0x06)
            return data[:4]
        if function == 0x0F:
            address, count, nbytes = struct.unpack(">HHB", data[:5])
            if not 1 <= count <= 1968 or nbytes != (count + 7) // 8 or len(data) < 5 + nbytes:
                raise SlaveException(ILLEGAL_VALUE)
            self.write_coils(address, unpack_bits(data[5 : 5 + nbytes], count))
            return data[:4]
        if function == 0x10:
            address, count, nbytes = struct.unpack(">HHB", data[:5])
            if not 1 <= count <= 123 or nbytes != 2 * count or len(data) < 5 + nbytes:
                raise SlaveException(ILLEGAL_VALUE)
            self.write_registers(address, list(struct.unpack(f">{count}H", data[5 : 5 + nbytes])), 0x10)
            return data[:4]
        raise SlaveException(ILLEGAL_FUNCTION)
