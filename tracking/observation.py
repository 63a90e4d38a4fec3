"""The one shape every BLE source is normalised into before the location engine sees it."""

from __future__ import annotations

from typing import NamedTuple

from firmware_bridge.ble.decode import AltBeacon, Beacon, EddystoneTlm, EddystoneUid, EddystoneUrl, IBeacon


class Observation(NamedTuple):
    """One advert heard by one gateway. Immutable; a tuple because sources build hundreds of thousands a second."""

    gateway_id: str
    tag_key: str
    rssi: int
    ref_power: int | None  # expected RSSI at 1 m, from the advert (None when the frame has none)
    battery_mv: int | None
    temperature_c: float | None
    at: float  # seconds since the epoch (UTC)


def _power(value: int) -> int | None:
    """A measured power at 1 m no radio can have (+26/+30 dBm: real nRF51822 beacons with the battery in that
    byte, ESPresense #475; see tests/fixtures/ble) is not a calibration: the sighting is kept without it (the
    engine then uses its default), rather than refusing every advert of a real tag."""
    return value if -127 <= value <= 20 else None


def observation_from(beacon: Beacon, tag_key: str, gateway_id: str, rssi: int, at: float) -> Observation:
    """Normalise a decoded beacon frame (its tag key already resolved, e.g. TLM by address)."""
    if isinstance(beacon, IBeacon | AltBeacon | EddystoneUid | EddystoneUrl):
        return Observation(gateway_id, tag_key, rssi, _power(beacon.power_1m), None, None, at)
    if isinstance(beacon, EddystoneTlm):
        return Observation(gateway_id, tag_key, rssi, None, beacon.battery_mv, beacon.temperature_c, at)
    raise TypeError(f"not a beacon frame: {beacon!r}")
