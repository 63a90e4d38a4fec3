"""Why the location engine put a tag in a room (or made it unknown): its reasons as stored notes, one message a shape.

The engine builds these only when a room changes (or a hold starts), never per advert. Values are kept as text,
formatted as the engine always wrote them (RSSI and seconds whole, a margin to one decimal); room codes are values
of their own, so the asset page can put the room's name in their place (tracking.labels.reason_text).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from core.note_values import Number
from core.notes import N_, Note

NONE = Note.typed("")  # heard, but no room decided yet
NEVER_HEARD = Note.of(N_("never heard"))

_HOLD = N_("kept in %(zone)s: its gateway %(gateways)s is silent (reported down), not handed to a neighbour")


def strongest(gateway: str, rssi: float, incumbent: str | None, margin: float | None, dwell: float | None) -> Note:
    """A gateway of the new room hears the tag best: by `margin` dB over the `incumbent` room (inf: the incumbent's
    room no longer hears it; None: there was no room before), for `dwell` seconds (None: a first fix)."""
    values: dict[str, str | Number] = {"gateway": gateway, "rssi": f"{rssi:.0f}"}
    if dwell is not None:
        values["seconds"] = f"{dwell:.0f}"
    if incumbent is None or margin is None:
        if dwell is None:
            return Note.of(N_("%(gateway)s strongest at %(rssi)s dBm"), **values)
        return Note.of(N_("%(gateway)s strongest at %(rssi)s dBm for %(seconds)s s"), **values)
    values["zone"] = incumbent
    if math.isinf(margin):
        return Note.of(N_("%(gateway)s strongest at %(rssi)s dBm, %(zone)s no longer hears it for %(seconds)s s"),
                       **values)  # fmt: skip
    return Note.of(N_("%(gateway)s strongest at %(rssi)s dBm, %(margin)s dB over %(zone)s for %(seconds)s s"),
                   margin=Number.of(margin, 1), **values)  # fmt: skip


def beyond_radius(gateway: str, rssi: float, distance: float, zone: str, radius: float, dwell: float | None) -> Note:
    """The strongest gateway's reading puts the tag further away than its room reaches: unknown."""
    values: dict[str, str | Number] = {"gateway": gateway, "rssi": f"{rssi:.0f}", "distance": f"{distance:.0f}",
                                       "zone": zone, "radius": Number.short(radius)}  # fmt: skip
    if dwell is None:
        return Note.of(N_("%(gateway)s reads %(rssi)s dBm, about %(distance)s m: "
                          "beyond %(zone)s's %(radius)s m radius"), **values)  # fmt: skip
    return Note.of(
        N_("%(gateway)s reads %(rssi)s dBm, about %(distance)s m: beyond %(zone)s's %(radius)s m radius "
           "for %(seconds)s s"), seconds=f"{dwell:.0f}", **values)  # fmt: skip


def lost(silent_for: float, limit: float, silent_zone: str | None) -> Note:
    """No gateway heard the tag for longer than the limit; `silent_zone` when its room's gateway is silent too."""
    if silent_zone is None:
        return Note.of(N_("no gateway heard the tag for %(seconds)s s (limit %(limit)s s)"),
                       seconds=f"{silent_for:.0f}", limit=f"{limit:.0f}")  # fmt: skip
    return Note.of(N_("no gateway heard the tag for %(seconds)s s (limit %(limit)s s); "
                      "%(zone)s's gateway is silent too"),
                   seconds=f"{silent_for:.0f}", limit=f"{limit:.0f}", zone=silent_zone)  # fmt: skip


def hold(zone: str, gateways: Iterable[str]) -> Note:
    """The tag stays in its room because every gateway of the room is silent."""
    return Note.of(_HOLD, zone=zone, gateways=", ".join(gateways))


def is_hold(reason: Note, zone: str) -> bool:
    return reason.message is _HOLD and reason.value("zone") == zone
