"""The bleak scanner adapter: each way scanning fails is provoked for real, and made-up adverts drive the real API.

No D-Bus: this machine has no system bus socket. D-Bus without BlueZ: a private dbus-daemon. BlueZ
without an adapter: the same bus with a stand-in org.bluez that reports no objects. Adverts: a
BaseBleakScanner backend passed to BleakScanner(backend=...).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from firmware_bridge.ble.decode import Beacon, EddystoneTlm, EddystoneUid, IBeacon
from firmware_bridge.ble.scanner import NO_ADAPTER, NO_BLUEZ, NO_DBUS, ScannerUnavailable, scan
from firmware_bridge.ble.telemetry import TelemetryMatcher
from tests.support import wait_until

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/></policy></busconfig>
"""
# A stand-in BlueZ: owns org.bluez and answers GetManagedObjects with no adapters.
FAKE_BLUEZ = """
import asyncio, sys
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method
class ObjectManager(ServiceInterface):
    def __init__(self):
        super().__init__("org.freedesktop.DBus.ObjectManager")
    @method()
    def GetManagedObjects(self) -> "a{oa{sa{sv}}}":
        return {}
async def main():
    bus = await MessageBus(bus_address=sys.argv[1]).connect()
    bus.export("/", ObjectManager())
    await bus.request_name("org.bluez")
    print("ready", flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def _start_scan(**kwargs: Any) -> list[tuple[str, int, Beacon]]:
    """Scan on a thread of its own: another test's Playwright may own this thread's event loop."""
    heard: list[tuple[str, int, Beacon]] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(
            asyncio.run, scan(lambda address, rssi, beacon: heard.append((address, rssi, beacon)), 0.2, **kwargs)
        )
        job.result(timeout=30)
    return heard


def test_no_dbus_socket_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-socket'}")
    with pytest.raises(ScannerUnavailable) as caught:
        _start_scan()
    assert str(caught.value) == NO_DBUS and isinstance(caught.value.__cause__, FileNotFoundError)


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus-daemon)")
    socket_path = tmp_path / "bus.sock"
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_path))
    process = subprocess.Popen([daemon, f"--config-file={config}", "--nofork"], stderr=subprocess.DEVNULL)
    wait_until(socket_path.exists, what="the private dbus-daemon's socket")
    yield f"unix:path={socket_path}"
    process.terminate()
    process.wait(timeout=5)


def test_dbus_without_bluez_says_so(monkeypatch: pytest.MonkeyPatch, private_bus: str) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private_bus)
    with pytest.raises(ScannerUnavailable) as caught:
        _start_scan()
    assert str(caught.value) == NO_BLUEZ


def test_bluez_without_adapter_says_so(monkeypatch: pytest.MonkeyPatch, private_bus: str) -> None:
    bluez = subprocess.Popen([sys.executable, "-c", FAKE_BLUEZ, private_bus], stdout=subprocess.PIPE, text=True)
    try:
        assert bluez.stdout is not None and bluez.stdout.readline().strip() == "ready"
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private_bus)
        with pytest.raises(ScannerUnavailable) as caught:
            _start_scan()
        assert str(caught.value) == NO_ADAPTER
    finally:
        bluez.terminate()
        bluez.wait(timeout=5)


UID_FRAME = bytes.fromhex("00ee" + "edd1ebeac04e5defa017" + "0badc0ffee01" + "0000")
TLM_FRAME = bytes.fromhex("20000bb8ff00000004d200008ca0")
IBEACON = bytes.fromhex("021583256b7478d043a4826905f9dc8a44ba00100020c6")
EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"


class MadeUpScanner(BaseBleakScanner):
    """A bleak backend that 'hears' three adverts as soon as scanning starts."""

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: Any, **_: Any) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        for address, rssi, mfr, service in (
            ("AA:00:00:00:00:01", -61, {0x004C: IBEACON}, {}),
            ("AA:00:00:00:00:02", -70, {}, {EDDYSTONE: UID_FRAME}),
            ("AA:00:00:00:00:02", -71, {}, {EDDYSTONE: TLM_FRAME}),
            ("AA:00:00:00:00:03", -50, {0x0006: b"\x01\x09"}, {}),  # not a beacon: dropped
        ):
            data = AdvertisementData(None, mfr, service, list(service), None, rssi, ())
            device = self.create_or_update_device(address, address, None, None, data)
            self.call_detection_callbacks(device, data)

    async def stop(self) -> None:
        return None


def test_made_up_adverts_through_the_real_scanner_api() -> None:
    heard = _start_scan(backend=MadeUpScanner)
    assert [(a, r, type(b)) for a, r, b in heard] == [
        ("AA:00:00:00:00:01", -61, IBeacon),
        ("AA:00:00:00:00:02", -70, EddystoneUid),
        ("AA:00:00:00:00:02", -71, EddystoneTlm),
    ]
    matcher = TelemetryMatcher()
    keys = [matcher.identify(a, b) for a, _, b in heard]
    assert keys[2] == keys[1] == "eu-edd1ebeac04e5defa017-0badc0ffee01"
    tlm = heard[2][2]
    assert isinstance(tlm, EddystoneTlm) and tlm.temperature_c == -1.0


def test_bledevice_shape_is_what_bleak_3_builds() -> None:
    assert BLEDevice("AA", None, None).address == "AA" and os.name == "posix"
