"""The fast consumer against the real Mosquitto: QoS 1 delivered and acknowledged, partitions disjoint and complete."""

from __future__ import annotations

import json
import socket
import zlib

import pytest

from tests.support import wait_until
from tests.tracking.mosquitto import Mosquitto
from tracking.observation import Observation
from tracking.sources import wire
from tracking.sources.espresense import tag_key_from_espresense
from tracking.sources.fastmqtt import feed
from tracking.sources.mqtt import MqttConsumer
from tracking.sources.partition import ForeignTopics, Partition, owner

UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


def test_split_keeps_an_unfinished_packet_for_the_next_read() -> None:
    one, two = wire.publish("a/b", b"x" * 300, 1, 7), wire.publish("c", b"yz", 0)
    data = one + two[:3]
    packets, used = wire.split(data)
    assert len(packets) == 1 and used == len(one)
    message = wire.read_publish(packets[0])
    assert message == wire.Publish("a/b", b"x" * 300, 1, 7)
    packets, used = wire.split(one + two, used)
    assert [wire.read_publish(p) for p in packets] == [wire.Publish("c", b"yz", 0, 0)]


@pytest.mark.parametrize(  # the boundaries of MQTT 5.0, section 1.5.5 "Variable Byte Integer"
    ("encoded", "value"),
    [
        (b"\x00", 0),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xff\x7f", 16_383),
        (b"\x80\x80\x01", 16_384),
        (b"\xff\xff\x7f", 2_097_151),
        (b"\x80\x80\x80\x01", 2_097_152),
        (b"\xff\xff\xff\x7f", 268_435_455),
    ],
)
def test_one_variable_byte_integer_reader_for_every_length(encoded: bytes, value: int) -> None:
    framed = b"\xaa" + encoded + b"\xbb"
    assert wire.read_varint(framed, 1, len(framed)) == (value, 1 + len(encoded))
    assert wire.read_varint(framed, 1, len(encoded)) == (0, -1)  # its last byte not arrived: wait for more


def test_a_length_of_five_bytes_or_one_cut_off_is_a_wire_error_not_a_crash() -> None:
    with pytest.raises(wire.WireError, match="longer than four bytes"):
        wire.read_varint(b"\xff\xff\xff\xff\x01", 0, 5)
    with pytest.raises(wire.WireError, match="longer than four bytes"):
        wire.split(b"\x30\xff\xff\xff\xff\x01")
    cut = wire.Packet(wire.SUBACK, 0, b"\x00\x01\x80")  # a property length whose next byte never came
    with pytest.raises(wire.WireError, match="runs past the end of its packet"):
        wire.reason_code(cut)


def test_partitions_share_out_every_tag_once() -> None:
    parts = [Partition(i, 3) for i in range(3)]
    keys = [f"ib-{i}" for i in range(300)]
    assert all(sum(p.owns(k) for p in parts) == 1 for k in keys)
    assert owner("ib-1", 3) == zlib.crc32(b"ib-1") % 3
    assert Partition.parse("2/3") == Partition(2, 3)
    with pytest.raises(ValueError):
        Partition.parse("3/3")


def test_qos1_messages_reach_the_owning_partition_only(mosquitto: Mosquitto) -> None:
    got: list[list[Observation]] = [[], []]
    consumers = [mosquitto.consumer(got[i].extend, ingest_one=got[i].append, partition=Partition(i, 2)) for i in (0, 1)]
    publisher = mosquitto.publisher()
    devices = [f"iBeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e-1-{n}" for n in range(40)]
    topic = mosquitto.prefix + "espresense/devices/{}/gw-1"
    sightings = [(topic.format(d), json.dumps({"id": d, "rssi": -60})) for d in devices]
    publisher.send_all([*sightings, (topic.format("x"), "{not json")])
    wait_until(lambda: sum(c.acked for c in consumers) == 2 * 41, what="every message acked by both partitions")
    keys = [{o.tag_key for o in g} for g in got]
    assert len(keys[0]) + len(keys[1]) == 40 and not keys[0] & keys[1]
    assert all(owner(k, 2) == i for i, ks in enumerate(keys) for k in ks)
    assert sum(c.counters.get("rejected:payload:not_json", 0) for c in consumers) == 1


def test_feed_hands_over_complete_publishes_and_acks_each_qos1_one() -> None:
    big = b"y" * 20_000  # a three-byte remaining length
    data = wire.publish("a/b", b"xyz", 1, 5) + wire.publish("c", b"", 0) + wire.publish("d", big, 1, 0x0102)
    partial = wire.publish("e", b"x" * 300, 1, 7)[:50]
    buffer = bytearray(data + partial)
    got: list[tuple[str, bytes]] = []
    acks = bytearray()
    used, handled = feed(buffer, len(buffer), lambda topic, payload: got.append((topic, payload)), acks)
    assert (used, handled) == (len(data), 3)  # the unfinished packet waits for the next read
    assert got == [("a/b", b"xyz"), ("c", b""), ("d", big)]
    assert bytes(acks) == bytes.fromhex("40020005") + bytes.fromhex("40020102")  # PUBACK per QoS 1 message


def test_feed_refuses_a_publish_whose_topic_runs_past_it() -> None:
    broken = bytearray(b"\x32\x03\x00\x09a")  # QoS 1, remaining length 3, topic length 9
    with pytest.raises(wire.WireError, match="topic runs past"):
        feed(broken, len(broken), lambda topic, payload: None, bytearray())


def test_feed_acks_and_drops_a_known_foreign_topic_without_calling_handle() -> None:
    heard: list[tuple[str, float]] = []
    foreign = ForeignTopics(lambda gateway, at: heard.append((gateway, at)), clock=lambda: 42.0)
    foreign.add("espresense/devices/tag-b/gw-2", "gw-2")  # found to be another partition's by the consumer
    assert heard == [("gw-2", 42.0)]
    data = (wire.publish("espresense/devices/tag-a/gw-1", b"{}", 1, 1)
            + wire.publish("espresense/devices/tag-b/gw-2", b"{}", 1, 2)
            + wire.publish("espresense/devices/tag-b/gw-2", b"{}", 1, 3))  # fmt: skip
    buffer, acks = bytearray(data), bytearray()
    got: list[str] = []
    used, handled = feed(buffer, len(buffer), lambda topic, payload: got.append(topic), acks, foreign)
    assert (used, handled, got) == (len(data), 1, ["espresense/devices/tag-a/gw-1"])
    assert bytes(acks) == bytes.fromhex("40020001 40020002 40020003")  # every message acknowledged, dropped or not
    assert foreign.dropped == 2 and not foreign.seen  # reported at the end of the read
    assert heard == [("gw-2", 42.0)]  # gw-2 was marked heard less than a second ago: not again


def test_a_partition_drops_other_tags_in_the_reader_and_counts_them() -> None:
    keys = {n: tag_key_from_espresense(f"iBeacon:{UUID}-1-{n}") for n in range(12)}
    got: list[Observation] = []
    consumer = MqttConsumer(got.extend, lambda *_: None, ingest_one=got.append, partition=Partition(0, 2))
    assert consumer.foreign is not None
    devices = [f"iBeacon:{UUID}-1-{n}" for n in range(12)]
    data = b"".join(wire.publish(f"espresense/devices/{device}/gw-1", json.dumps({"id": device, "rssi": -60}).encode(),
                                 1, n + 1) for n, device in enumerate(devices))  # fmt: skip
    for _ in range(2):  # the second time every foreign topic is known: dropped in `feed`
        buffer = bytearray(data)
        feed(buffer, len(buffer), consumer.handle, bytearray(), consumer.foreign)
    mine = [n for n, key in keys.items() if owner(key, 2) == 0]
    assert 0 < len(mine) < 12
    assert [o.tag_key for o in got] == [keys[n] for n in mine] * 2
    assert consumer.foreign.dropped == 12 - len(mine)
    assert (consumer.messages, consumer.not_ours, consumer.observations) == (24, 2 * (12 - len(mine)), 2 * len(mine))


def test_a_kept_session_s_unacknowledged_message_is_handled_when_it_comes_before_the_suback(
    mosquitto: Mosquitto,
) -> None:
    """A consumer that died holding a message: its restart takes the session over and the broker sends that message
    again at once, before the SUBACK. It is handled and acknowledged (it used to end every session in a loop)."""
    client_id, topic = f"vttest-kept-{zlib.crc32(mosquitto.prefix.encode()):08x}", f"{mosquitto.prefix}espresense/#"
    device = f"iBeacon:{UUID}-1-5"
    dead = socket.create_connection(("127.0.0.1", 1883), timeout=10)
    dead.sendall(wire.connect(client_id, 30, 16, clean_start=True, session_expiry_s=60))
    dead.sendall(wire.subscribe(1, [topic], qos=1))
    got = bytearray()

    def arrived(kind: int) -> bool:
        got.extend(dead.recv(65536))
        return kind in [p.kind for p in wire.split(got)[0]]

    wait_until(lambda: arrived(wire.SUBACK), timeout=10, what="the first session's SUBACK")
    mosquitto.publisher().send(f"{mosquitto.prefix}espresense/devices/{device}/gw-a", json.dumps({"id": device,
                               "rssi": -60}))  # fmt: skip
    wait_until(lambda: arrived(wire.PUBLISH), timeout=10, what="the message at the first session")
    dead.close()  # no PUBACK: the broker keeps the message for the session
    seen: list[Observation] = []
    consumer = mosquitto.consumer(seen.extend, client_id=client_id, session_expiry_s=60, group=None)
    wait_until(lambda: consumer.acked == 1, timeout=15, what="the kept message handled and acknowledged")
    assert [obs.tag_key for obs in seen] == [tag_key_from_espresense(device)]
    assert consumer.connects == 1 and consumer.supervisor.outages == 0
