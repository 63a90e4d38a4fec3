"""Matches Eddystone TLM frames (which carry no id) to their tag by the advertiser's address."""

from __future__ import annotations

from collections import OrderedDict

from firmware_bridge.ble.decode import Beacon, EddystoneTlm, EddystoneUrl


class TelemetryMatcher:
    """Remembers which tag key each address last advertised, so a later TLM frame can be attributed.

    Eddystone tags interleave UID (or URL) frames with TLM frames from the same address; the TLM frame
    alone cannot be tied to a tag. Bounded: the least recently seen addresses are forgotten first.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._by_address: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def identify(self, address: str, beacon: Beacon) -> str | None:
        """The tag key this frame belongs to, or None for a TLM/URL frame from an address not yet identified."""
        address = address.lower()
        if isinstance(beacon, EddystoneTlm | EddystoneUrl):
            key = self._by_address.get(address)
            if key is None and isinstance(beacon, EddystoneUrl):
                return f"mac-{address}"
            return key
        key = beacon.tag_key
        if self._by_address.get(address) != key:
            self._by_address[address] = key
            if len(self._by_address) > self._capacity:
                self._by_address.popitem(last=False)
        return key
