"""Local BLE scanning with bleak 3.x: decoded beacon frames to a callback, and one clear sentence when it cannot scan.

Starting a scan fails three different ways on Linux, each mapped to what a person should do:
no D-Bus socket (FileNotFoundError), D-Bus without BlueZ (BleakDBusError ServiceUnknown), and
BlueZ without a Bluetooth adapter (BleakBluetoothNotAvailableError).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from firmware_bridge.ble.decode import Beacon, decode_fields
from firmware_bridge.errors import BusOffline

NO_DBUS = (
    "Cannot scan: there is no D-Bus system bus on this machine (no socket at /run/dbus/system_bus_socket); "
    "start dbus (e.g. `systemctl start dbus`) or run the scanner on a host with Bluetooth."
)
NO_BLUEZ = (
    "Cannot scan: D-Bus is running but BlueZ is not; install the bluez package and start bluetoothd "
    "(`systemctl start bluetooth`)."
)
NO_ADAPTER = (
    "Cannot scan: BlueZ found no usable Bluetooth adapter; plug one in or power it on "
    "(`bluetoothctl power on`) and check the --adapter name (e.g. hci0)."
)

AdvertHandler = Callable[[str, int, Beacon], None]


class ScannerUnavailable(BusOffline):
    """Scanning cannot start; the message is one sentence saying which part is missing and what to do."""


def explain(exc: BaseException) -> str | None:
    """The sentence for a bleak start-up failure, or None when it is none of the known three."""
    if isinstance(exc, FileNotFoundError):
        return NO_DBUS
    if isinstance(exc, BleakDBusError):
        if "ServiceUnknown" in exc.dbus_error or "NameHasNoOwner" in exc.dbus_error:
            return NO_BLUEZ
        return f"Cannot scan: D-Bus error {exc.dbus_error}; check that bluetoothd is running and you may use it."
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return NO_ADAPTER
    if isinstance(exc, ConnectionRefusedError | PermissionError):
        return f"Cannot scan: the D-Bus system bus refused the connection ({exc}); check its permissions."
    return None


def _callback(on_advert: AdvertHandler) -> Callable[[BLEDevice, AdvertisementData], None]:
    def detected(device: BLEDevice, data: AdvertisementData) -> None:
        beacon = decode_fields(data.manufacturer_data, data.service_data)
        if beacon is not None:
            on_advert(device.address, data.rssi, beacon)

    return detected


async def scan(
    on_advert: AdvertHandler,
    seconds: float | None,
    adapter: str | None = None,
    backend: type[BaseBleakScanner] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Scan until `seconds` pass or `stop` is set; raises ScannerUnavailable with an actionable sentence."""
    options: dict[str, Any] = {"bluez": {"adapter": adapter} if adapter else {}}
    if backend is not None:
        options["backend"] = backend
    scanner = BleakScanner(detection_callback=_callback(on_advert), **options)
    try:
        await scanner.start()
    except (OSError, BleakError) as exc:
        sentence = explain(exc)
        if sentence is None:
            raise
        raise ScannerUnavailable(sentence) from exc
    try:
        waiter = stop or asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout=seconds)
    finally:
        await scanner.stop()
