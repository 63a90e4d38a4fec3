"""Ingics iGS gateways (iGS01, iGS02, iGS03): `$GPRP` report lines, over HTTP and over MQTT.

    $GPRP,<tag MAC>,<gateway MAC>,<RSSI>,<advertising data hex>[,<unix time>]
    $GPRP,0C61CFC14A4E,E3C33FF55AEC,-50,02010612FF0D0083BC2801020A09FFFF000015030000
    $HBRP,F008D1798C60,F008D1798C60,-127,00000000,1635322857

`$GPRP` is an advertisement, `$SRRP` a scan response, `$LRAD`/`$LRSR` the same on the long-range PHY and
`$1MAD`/`$1MSR` on BLE 5's 1M PHY (the report types of Ingics' own ingics-message-parser); all are decoded
from the raw data by our decoders. The time (seconds, or seconds with milliseconds after a dot) is there only
when the gateway's NTP option is on; without it the server's time is used. `$HBRP` is the gateway's
heartbeat. A body is the lines (CR LF or LF between them), a JSON object `{"data": [lines]}` as the gateways'
JSON option sends, or a JSON array of lines. Each bad line is refused by its index and field; the others are kept.
"""

from __future__ import annotations

from typing import Any

from tracking.sources import jsonbody, limits
from tracking.sources.formats import (
    Collector,
    FormatContext,
    Outcome,
    as_parsed,
    hex_bytes,
    mac,
    mqtt_context,
    observe_raw,
    unix_time,
)
from tracking.sources.limits import Reason, Rejected
from tracking.sources.routes import Parsed, Route, Wildcards

MAX_LINES = 1000
MAX_LINE = 600  # "$GPRP," + two MACs + RSSI + 255 bytes of hex + time
MAX_BODY_BYTES = 512 * 1024
REPORTS = frozenset({"$GPRP", "$SRRP", "$LRAD", "$LRSR", "$1MAD", "$1MSR"})  # ingics-message-parser's list
HEARTBEAT = "$HBRP"


def load_lines(payload: bytes | str) -> list[Any]:
    """A body's report lines; raises `Rejected` naming `body` when it is too large or neither text nor JSON."""
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    if len(raw) > MAX_BODY_BYTES:
        raise Rejected("body", Reason.TOO_LARGE, f"body is {len(raw)} bytes: send at most {MAX_BODY_BYTES}")
    start = raw.lstrip()[:1]
    if start in (b"{", b"["):
        data = jsonbody.load(raw, "body", MAX_BODY_BYTES)
        lines = data.get("data") if isinstance(data, dict) else data
        if not isinstance(lines, list):
            raise Rejected("data", Reason.WRONG_TYPE, 'send {"data": ["$GPRP,...", ...]} or the lines as text')
    else:
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise Rejected("body", Reason.NOT_JSON, "body is not UTF-8 text: send the $GPRP lines as text") from None
    if len(lines) > MAX_LINES:
        raise Rejected("body", Reason.TOO_LARGE, f"{len(lines)} lines in one body: send at most {MAX_LINES}")
    return lines


def parse_report(lines: list[Any], gateway_id: str, context: FormatContext) -> Outcome:
    """Report lines to observations; the gateway id is ours (URL or topic), not the MAC in the lines."""
    found = Collector(limits.gateway_id(gateway_id))
    for index, line in enumerate(lines):
        try:
            if not isinstance(line, str):
                raise Rejected("line", Reason.WRONG_TYPE, 'each line must be a string such as "$GPRP,<tag>,<gw>,..."')
            text = line.strip()
            if not text:
                continue
            kind = text[:5]
            if kind == HEARTBEAT:
                found.heartbeat = True
            elif kind in REPORTS:
                found.add(_report(text, found.gateway_id, context))
            else:
                found.ignored += 1  # other reports ($ACCS ...) carry nothing we place tags with
        except Rejected as exc:
            found.refuse(index, exc)
    return found.outcome()


def _report(text: str, gateway: str, context: FormatContext) -> Any:
    limits.text(text, "line", MAX_LINE, '"$GPRP,<tag MAC>,<gateway MAC>,<RSSI>,<hex>[,<time>]"')
    fields = text.split(",")
    if len(fields) not in (5, 6):
        shape = "$GPRP,tag,gateway,rssi,data[,time]"
        message = f"a report line has 5 or 6 comma-separated fields ({shape}), got {len(fields)}"
        raise Rejected("line", Reason.BAD_FORMAT, message)
    address = mac(fields[1], "tag_mac")
    mac(fields[2], "gateway_mac")
    rssi = limits.RSSI.integer(_integer(fields[3], "rssi"), "rssi")
    raw = hex_bytes(fields[4], "data", allow_empty=True)
    at = unix_time(fields[5], "time", context) if len(fields) == 6 else context.now
    return observe_raw(raw, address, gateway, rssi, at, context, "data")


def _integer(text: str, field_name: str) -> int:
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 4):
        message = f"{field_name} must be a whole number of dBm, got {limits.shown(text)}"
        raise Rejected(field_name, Reason.BAD_FORMAT, message)
    return int(text)


def _mqtt(wildcards: Wildcards, payload: bytes, now: float) -> Parsed:
    """`ingics/<gateway id>`: the gateway's MQTT topic set to name our gateway id (the lines' MAC is not used)."""
    return as_parsed(parse_report(load_lines(payload), wildcards[0], mqtt_context(now)), "ingics")


ROUTES = (Route("ingics/+", _mqtt, "ingics"),)
