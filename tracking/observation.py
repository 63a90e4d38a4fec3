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


def observation_from(beacon: Beacon, tag_key: str, gateway_id: str, rssi: int, at: float) -> Observation:
    """Normalise a decoded beacon frame (its tag key already resolved, e.g. TLM by address)."""
    if isinstance(beacon, IBeacon | AltBeacon):
        return Observation(gateway_id, tag_key, rssi, beacon.power_1m, None, None, at)
    if isinstance(beacon, EddystoneUid | EddystoneUrl):
        return Observation(gateway_id, tag_key, rssi, beacon.power_1m, None, None, at)
    if isinstance(beacon, EddystoneTlm):
        return Observation(gateway_id, tag_key, rssi, None, beacon.battery_mv, beacon.temperature_c, at)
    raise TypeError(f"not a beacon frame: {beacon!r}")
