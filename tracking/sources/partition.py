"""Tag affinity: which of N engine processes owns a tag. Every process computes the same answer from the tag key.

The owner of `tag_key` is `crc32(tag_key) % count` (CRC-32 rather than `hash()`, which Python salts per
process). A process with `Partition(index, count)` keeps only the observations of the tags it owns, so a
tag's room is decided from all of its observations whichever gateway heard them; the others are dropped
after a look at the topic (ESPresense names the tag in the topic), before any JSON is parsed.
`ForeignTopics` remembers the topics found to be another partition's, so that the frame reader
(`fastmqtt.feed`) drops their later messages before it copies the payload or calls the consumer.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CACHE_LIMIT = 200_000
FOREIGN_TOPICS = 200_000  # topics remembered as another partition's (tag x gateway pairs); then forgotten at once
HEARD_EVERY_S = 1.0  # a gateway heard only through other partitions' tags is marked heard at most this often


@dataclass(slots=True)
class Partition:
    index: int
    count: int
    _owned: dict[str, bool] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count}: give an index from 0 to {self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`"1/3"`: the second of three processes."""
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit()):
            raise ValueError(f"partition {text!r}: write it as INDEX/COUNT, e.g. 0/3")
        return cls(int(index), int(count))

    @property
    def whole(self) -> bool:
        return self.count == 1

    def owns(self, tag_key: str) -> bool:
        found = self._owned.get(tag_key)
        if found is None:
            found = owner(tag_key, self.count) == self.index
            if len(self._owned) >= CACHE_LIMIT:
                self._owned.clear()
            self._owned[tag_key] = found
        return found


def owner(tag_key: str, count: int) -> int:
    return zlib.crc32(tag_key.encode("utf-8", "surrogatepass")) % count


class ForeignTopics:
    """Topics of tags another partition owns, each with the gateway it names (`feed` looks a topic up here first).

    `feed` drops a message whose topic is here after one look-up: it counts it in `dropped` and puts its gateway
    in `seen`; `report` (at the end of each read) tells `heard(gateway_id, now)` at most once a second per
    gateway, so that a gateway heard only through other partitions' tags is still known to be alive.
    """

    __slots__ = ("_heard_at", "clock", "dropped", "heard", "seen", "topics")

    def __init__(self, heard: Callable[[str, float], Any], clock: Callable[[], float] = time.time) -> None:
        self.topics: dict[str, str] = {}
        self.seen: set[str] = set()
        self.dropped = 0
        self.heard, self.clock = heard, clock
        self._heard_at: dict[str, float] = {}

    def add(self, topic: str, gateway_id: str) -> None:
        """`topic` (a first message of it, just found to be another partition's) is dropped from now on."""
        if len(self.topics) >= FOREIGN_TOPICS:
            self.topics.clear()
        self.topics[topic] = gateway_id
        self._heard_at[gateway_id] = time.monotonic()
        self.heard(gateway_id, self.clock())

    def report(self) -> None:
        now = time.monotonic()
        for gateway_id in self.seen:
            if now - self._heard_at.get(gateway_id, -HEARD_EVERY_S) >= HEARD_EVERY_S:
                self._heard_at[gateway_id] = now
                self.heard(gateway_id, self.clock())
        self.seen.clear()
