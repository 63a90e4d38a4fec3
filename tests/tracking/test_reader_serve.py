"""The reader in real processes: `vendtrack serve` with three engines behind one reader in a process of its own,
fed through the real Mosquitto on a fresh SQLite database. A scripted ESPresense walk gives every tag the same
rooms as one engine that hears everything (in this test's process); an engine process killed while it holds
unconfirmed messages is restarted by serve's supervisor and gets them again from the broker; the reader's process
killed while the broker's messages wait in it unconfirmed is restarted too, and every one of them ends recorded.

The engines run on the wall clock, so the walk moves on to its next leg only once the database and the one-engine
reference both show every tag in its room (published step by step until then, within a deadline); what is
compared is the sequence of rooms each tag went through.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory, unit_of_work
from core.heartbeats import WorkerHeartbeat
from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto
from tests.web.served import Served, children
from tracking.engine import FloorModel, GatewaySpec
from tracking.models import Asset, Gateway, LocationInterval, Tag, Zone
from tracking.pipeline import Pipeline
from tracking.services import format_polygon
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import owner

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"
ROOMS = 3
GATEWAYS = [f"gw-{i}" for i in range(2 * ROOMS)]  # two per room
TAGS = 9
LEGS = 4


def _room(gateway: str) -> str:
    return f"room-{int(gateway[3:]) // 2}"


def _device(minor: int) -> str:
    return f"iBeacon:{UUID}-1-{minor}"


def _expected(tag: int, leg: int) -> str:
    return f"room-{(tag + leg) % ROOMS}"


def _seed(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        zones = {}
        for n in range(ROOMS):
            square = [(10.0 * n, 0.0), (10.0 * n + 10, 0.0), (10.0 * n + 10, 8.0), (10.0 * n, 8.0)]
            zones[f"room-{n}"] = Zone(code=f"room-{n}", name=f"Room {n}", kind="room", polygon=format_polygon(square))
        session.add_all(zones.values())
        session.flush()
        for i, gateway in enumerate(GATEWAYS):
            session.add(Gateway(gateway_id=gateway, zone_id=zones[_room(gateway)].id, x=5.0 * i + 2, y=4.0))
        for tag in range(TAGS):
            row = Tag(tag_key=tag_key_from_espresense(_device(tag)))
            session.add(row)
            session.flush()
            session.add(Asset(asset_tag=f"W-{tag}", name=f"Walker {tag}", asset_type="wheelchair", unit="Ward",
                              status="clean", tag_id=row.id))  # fmt: skip


def _step(prefix: str, leg: int) -> list[tuple[str, bytes]]:
    """One step of leg `leg`: every gateway hears every tag, loud in the tag's room, faint elsewhere."""
    found = []
    for tag in range(TAGS):
        for gateway in GATEWAYS:
            rssi = -55 if _room(gateway) == _expected(tag, leg) else -82
            found.append((f"{prefix}espresense/devices/{_device(tag)}/{gateway}",
                          json.dumps({"id": _device(tag), "rssi": rssi, "rssi@1m": -59}).encode()))  # fmt: skip
    return found


def _sightings(prefix: str, minors: list[int]) -> list[tuple[str, bytes]]:
    """One sighting of each tag `minors` names, by gw-0."""
    return [(f"{prefix}espresense/devices/{_device(m)}/gw-0", json.dumps({"id": _device(m), "rssi": -60}).encode())
            for m in minors]  # fmt: skip


def _rooms_now(factory: sessionmaker[Session]) -> dict[str, str | None]:
    with factory() as session:
        rows = session.execute(select(Asset.asset_tag, Zone.code).outerjoin(Zone, Asset.zone_id == Zone.id))
        return {tag: code for tag, code in rows}


def _owned(keys: list[str]) -> list[int]:
    """How many of `keys` each of the three engines owns."""
    return [sum(1 for key in keys if owner(key, 3) == index) for index in range(3)]


def _room_sequences(factory: sessionmaker[Session]) -> dict[str, list[str | None]]:
    with factory() as session:
        rows = session.execute(
            select(Tag.tag_key, Zone.code)
            .join(Asset, Asset.tag_id == Tag.id)
            .join(LocationInterval, LocationInterval.asset_id == Asset.id)
            .outerjoin(Zone, LocationInterval.zone_id == Zone.id)
            .order_by(LocationInterval.started_at, LocationInterval.id)
        )
        found: dict[str, list[str | None]] = {}
        for key, code in rows:
            found.setdefault(key, []).append(code)
        return found


def _reader_beat(factory: sessionmaker[Session]) -> WorkerHeartbeat | None:
    """The reader's newest heartbeat row (written by the reader's process every second)."""
    with factory() as session:
        return session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.role.like("tracking-mqtt-reader%"))
                               .order_by(WorkerHeartbeat.beat_at.desc())).first()  # fmt: skip


def _reader_counters(factory: sessionmaker[Session]) -> dict[str, int]:
    row = _reader_beat(factory)
    return {} if row is None else dict(json.loads(row.counters))


def _reader_when(factory: sessionmaker[Session], holds: Callable[[dict[str, int]], bool], what: str) -> dict[str, int]:
    """The reader's counters once `holds` says so (within a deadline)."""
    found: list[dict[str, int]] = []

    def check() -> bool:
        found[:] = [_reader_counters(factory)]
        return bool(found[0]) and holds(found[0])

    wait_until(check, timeout=30, every=0.2, what=what)
    return found[0]


def _reader_settled(factory: sessionmaker[Session]) -> dict[str, int]:
    """The reader's counters once its acknowledgements stop moving: its beats (one a second) over three seconds
    with the same count, so everything published before is acknowledged and counted. The legs above publish each
    step again until it arrives, so a count read at once can still be taking the last repeats."""
    acked_at: dict[datetime, int] = {}
    found: list[dict[str, int]] = []

    def check() -> bool:
        row = _reader_beat(factory)
        if row is None:
            return False
        found[:] = [dict(json.loads(row.counters))]
        acked_at[row.beat_at] = found[0].get("acked", -1)
        latest = max(acked_at)
        window = {acked for at, acked in acked_at.items() if at >= latest - timedelta(seconds=3)}
        return min(acked_at) <= latest - timedelta(seconds=3) and len(window) == 1

    wait_until(check, timeout=60, every=0.2, what="the reader's acknowledgements settling")
    return found[0]


@pytest.fixture
def served_reader(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  mosquitto: Mosquitto) -> Iterator[tuple[Served, sessionmaker[Session]]]:  # fmt: skip
    """`vendtrack serve` with three engines behind the reader, on this test's topic prefix, its floor seeded."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    _seed(factory)
    variables = {"TRACKING_MQTT": "1", "TRACKING_MQTT_PROCESSES": "3", "TRACKING_MQTT_READER": "1",
                 "TRACKING_MQTT_PREFIX": mosquitto.prefix, "HEARTBEAT_SECONDS": "1"}  # fmt: skip
    for name, value in variables.items():
        monkeypatch.setenv(f"VENDTRACK_{name}", value)
    with Served(database_url, tmp_path / "i", "--processes", "1", "--threads", "8") as served:
        served.wait_ready()

        def reading() -> bool:
            health = served.health()[0]
            readers = [w for w in health["workers"].values() if w["role"].startswith("tracking-mqtt-reader")]
            engines = [i for i in health["ingesters"].values() if "fed by the reader" in i["info"] and i["alive"]]
            return any(w["alive"] and w["info"].startswith("reading") for w in readers) and len(engines) == 3

        wait_until(reading, timeout=90, every=0.5, what="/healthz showing the reader reading for three engines")
        try:
            yield served, factory
        finally:
            assert served.stop() == 0
            engine.dispose()


def test_a_walk_through_serve_gives_every_tag_the_rooms_one_engine_gives(
    served_reader: tuple[Served, sessionmaker[Session]], mosquitto: Mosquitto
) -> None:
    served, factory = served_reader
    _reader_in_its_own_process(served, factory)
    keys = [tag_key_from_espresense(_device(tag)) for tag in range(TAGS)]
    assert {owner(key, 3) for key in keys} == {0, 1, 2}  # every engine decides some of the tags
    reference = Pipeline(sessionmaker())
    reference.engine.set_floor(FloorModel({g: GatewaySpec(g, _room(g)) for g in GATEWAYS}, {}))
    one = MqttConsumer(reference.ingest, reference.gateway_status, ingest_one=reference.ingest_one,
                       prefix=mosquitto.prefix, group=None, heard=reference.engine.heard)  # fmt: skip
    mosquitto.start(one)
    publisher = mosquitto.publisher()
    for leg in range(LEGS):

        def arrived(leg: int = leg) -> bool:
            publisher.send_all(_step(mosquitto.prefix, leg))
            rooms = _rooms_now(factory)
            served_there = all(rooms[f"W-{tag}"] == _expected(tag, leg) for tag in range(TAGS))
            alone_there = all(reference.engine.placed(keys[tag])[0] == _expected(tag, leg) for tag in range(TAGS))
            return served_there and alone_there

        wait_until(arrived, timeout=120, every=0.2, what=f"every tag in its room of leg {leg} (serve and reference)")
    single: dict[str, list[str | None]] = {}
    for change in reference.engine.drain_changes():
        single.setdefault(change.tag_key, []).append(change.to_zone)
    assert single == {key: [_expected(tag, leg) for leg in range(LEGS)] for tag, key in enumerate(keys)}
    assert _room_sequences(factory) == single

    def engines() -> list[dict[str, Any]]:
        health = served.health()[0]
        return [i for i in health["ingesters"].values() if "fed by the reader" in i["info"] and i["alive"]]

    wait_until(lambda: sum(i["accepted"] for i in engines()) == one.observations, timeout=15, every=0.5,
               what="the engines' heartbeats counting each message once, at one engine")  # fmt: skip
    found = engines()
    assert len(found) == 3 and all(i["accepted"] > 0 for i in found), found  # each engine took its own tags
    assert sum(sum(i["rejected"].values()) for i in found) == 0
    before = _reader_settled(factory)
    bad = [(f"{mosquitto.prefix}espresense/devices/{_device(tag)}/gw-0", b"{not json") for tag in range(TAGS)]
    bad.append((f"{mosquitto.prefix}vendtrack/adverts/gw-0", b"[" * 5000))  # names no tag: to every engine
    publisher.send_all(bad + _step(mosquitto.prefix, LEGS - 1))

    def rejected() -> list[int]:  # per engine, by the partition its role names
        found = {int(i["role"].rsplit(" ", 1)[1][0]): sum(i["rejected"].values()) for i in engines()}
        return [found.get(index, -1) for index in range(3)]

    expected = [n + 1 for n in _owned(keys)]  # its own tags' bad sightings and the raw batch
    wait_until(lambda: rejected() == expected, timeout=15, every=0.5, what=f"the engines rejecting {expected}")
    after = _reader_when(factory, lambda c: c["acked"] - before["acked"] == len(bad) + len(_step("", 0)),
                         "the bad messages acknowledged with the good ones after them")  # fmt: skip
    assert after["sessions"] == before["sessions"] and after["restarts"] == 0  # the reader kept its session
    assert all(i["restarts"] == 0 and i["state"] == "running" for i in engines())


def _story(served: Served, factory: sessionmaker[Session]) -> str:
    with factory() as session:
        beats = [f"{row.name} {row.state} {row.info} {row.counters} {row.last_error[:300]}"
                 for row in session.scalars(select(WorkerHeartbeat)) if "tracking" in row.role]  # fmt: skip
    served.stop()
    output = served.proc.stdout.read() if served.proc.stdout is not None else ""
    return "heartbeats:\n" + "\n".join(beats) + "\nserve's output (end):\n" + output[-6000:]


def _reader_in_its_own_process(served: Served, factory: sessionmaker[Session]) -> int:
    """The reader's process: serve's child `tracking-reader`, whose pid the reader's heartbeat names; no other of
    serve's processes (the workers process, the engines) reports a reader. Returns its pid."""
    pid = _engine_pid(served, "tracking-reader")
    others = {_engine_pid(served, name) for name in ("tracking-engine-1", "tracking-engine-2")}
    others |= {p for p in children(served.proc.pid) if _command(p)[3:5] == [b"workers", b"--dispatchers"]}
    assert pid and len(others) == 3 and pid not in others
    with factory() as session:
        beats = session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.role.like("tracking-mqtt-reader%")))
        pids = {int(row.process.rsplit(":", 1)[1]) for row in beats}  # the process column is host:pid
    assert pid in pids and not pids & others, (pid, pids, others)
    return pid


def _command(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _engine_pid(served: Served, name: str) -> int:
    """The pid of serve's child running `name` (0 while there is none: between a death and the restart)."""
    for pid in children(served.proc.pid):
        if name.encode() in _command(pid):
            return pid
    return 0


def test_an_engine_killed_with_unconfirmed_messages_gets_them_again_after_its_restart(
    served_reader: tuple[Served, sessionmaker[Session]], mosquitto: Mosquitto
) -> None:
    served, factory = served_reader
    victim = 2
    minors = [m for m in range(100, 400) if owner(tag_key_from_espresense(_device(m)), 3) == victim][:20]
    keys = {tag_key_from_espresense(_device(m)) for m in minors}
    pid = _engine_pid(served, f"tracking-engine-{victim}")
    assert pid
    before = _reader_counters(factory)
    os.kill(pid, signal.SIGSTOP)  # it reads nothing more and confirms nothing
    try:
        mosquitto.publisher().send_all(_sightings(mosquitto.prefix, minors))
        held = _reader_when(factory, lambda c: c["routed"] - before["routed"] == len(minors),
                            "the messages routed to the stopped engine")  # fmt: skip
        confirmed = held["acked"] - before["acked"]  # handled before the stop took hold (acknowledged in order)
        assert confirmed < len(minors)  # the rest in the stopped engine's hands, unconfirmed, not acknowledged
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _engine_pid(served, f"tracking-engine-{victim}") not in (0, pid), timeout=60, every=0.2,
               what="serve restarting the killed engine")  # fmt: skip

    # a message the engine confirmed lived in its memory until the next flush (at most a second) and may have died
    # with it; every unconfirmed one must come again from the broker and be recorded by the restarted engine
    redelivered = {tag_key_from_espresense(_device(m)) for m in minors[confirmed:]}

    def recorded() -> set[str]:
        with factory() as session:
            rows = session.scalars(select(Tag.tag_key).where(Tag.tag_key.in_(keys), Tag.last_seen_at.is_not(None)))
            return set(rows)

    try:
        wait_until(lambda: recorded() >= redelivered, timeout=90, every=0.5,
                   what="every unconfirmed message handled by the restarted engine")  # fmt: skip
    except AssertionError as exc:  # say what the reader and the engines reported, and what serve logged
        story = _story(served, factory)
        raise AssertionError(f"{exc}: {len(recorded() & redelivered)} of {len(redelivered)}; {story}") from None
    after = _reader_when(factory, lambda c: c["acked"] - before["acked"] >= len(minors),  # the confirmed, the rest
                         "the broker's messages acknowledged after the restart")  # fmt: skip
    assert after["sessions"] > before["sessions"]  # the engine's going ended the session; the reader took it back
    assert after["restarts"] == 0  # outages, not crashes


def test_the_reader_killed_with_unconfirmed_messages_is_restarted_and_every_message_ends_recorded(
    served_reader: tuple[Served, sessionmaker[Session]], mosquitto: Mosquitto
) -> None:
    """Nothing is confirmed to the broker before an engine confirmed it, so a reader that dies loses nothing: the
    broker delivers every unacknowledged message again to the restarted reader (its session outlives it), and
    the engines (alive throughout) record all of them. No tolerance here: no engine's memory died."""
    served, factory = served_reader
    pid = _reader_in_its_own_process(served, factory)
    minors = list(range(500, 530))
    keys = {tag_key_from_espresense(_device(m)) for m in minors}
    assert {owner(key, 3) for key in keys} == {0, 1, 2}
    os.kill(pid, signal.SIGSTOP)  # it routes nothing more and acknowledges nothing: the messages wait in it
    try:
        mosquitto.publisher().send_all(_sightings(mosquitto.prefix, minors))
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _engine_pid(served, "tracking-reader") not in (0, pid), timeout=60, every=0.2,
               what="serve restarting the killed reader")  # fmt: skip

    def recorded() -> set[str]:
        with factory() as session:
            rows = session.scalars(select(Tag.tag_key).where(Tag.tag_key.in_(keys), Tag.last_seen_at.is_not(None)))
            return set(rows)

    try:
        wait_until(lambda: recorded() == keys, timeout=90, every=0.5,
                   what="every message the killed reader held recorded by the engines")  # fmt: skip
    except AssertionError as exc:
        story = _story(served, factory)
        raise AssertionError(f"{exc}: {len(recorded())} of {len(keys)}; {story}") from None
    after = _reader_when(factory, lambda c: c["acked"] >= len(minors),
                         "the new reader acknowledging the broker's messages")  # fmt: skip
    assert after["restarts"] == 0 and after["sessions"] == 1  # the new process's first session took them over
    assert _reader_in_its_own_process(served, factory) != pid
