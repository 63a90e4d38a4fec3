"""docs/hardware.md, "Wiring a machine": every worked example is a configuration vending accepts for its kind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vending import drivers

HARDWARE = Path(__file__).parents[2] / "docs" / "hardware.md"
EXAMPLE = re.compile(r"^Machine kind: `(\w+)`\n\n```json\n(.*?)```", re.S | re.M)


def _section() -> str:
    text = HARDWARE.read_text(encoding="utf-8")
    start = text.index("## Wiring a machine")
    return text[start : text.index("\n## ", start + 1)]


EXAMPLES = EXAMPLE.findall(_section())


def test_there_is_an_example_per_kind() -> None:
    assert {kind for kind, _ in EXAMPLES} == set(drivers.KINDS)
    drivers_used = {json.loads(body).get("driver") or json.loads(body)["door"]["driver"] for _, body in EXAMPLES}
    assert drivers_used == {"kerong", "xorboard", "coil", "relay"}


@pytest.mark.parametrize(("kind", "body"), EXAMPLES, ids=[f"{i}-{kind}" for i, (kind, _) in enumerate(EXAMPLES)])
def test_each_example_validates_for_its_kind(kind: str, body: str) -> None:
    assert drivers.validate(kind, body) == json.loads(body)
