"""Tag affinity: which of N engine processes owns a tag. Every process computes the same answer from the tag key.

The owner of `tag_key` is `crc32(tag_key) % count` (CRC-32 rather than `hash()`, which Python salts per
process). A process with `Partition(index, count)` keeps only the observations of the tags it owns, so a
tag's room is decided from all of its observations whichever gateway heard them; the others are dropped
after a look at the topic (ESPresense names the tag in the topic), before any JSON is parsed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

CACHE_LIMIT = 200_000


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
