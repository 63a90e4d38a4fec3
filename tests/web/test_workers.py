"""web.workers.freeze_start_up_heap: what is alive at start-up leaves the collector's walks; garbage does not stay."""

from __future__ import annotations

import gc
import weakref

from web.workers import freeze_start_up_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector can free it


def test_start_up_objects_are_frozen_and_start_up_garbage_is_collected_first() -> None:
    gc.disable()  # no automatic collection between the lines below: only the function's own may free the cycle
    kept = _Node()
    garbage = _Node()
    garbage_ref = weakref.ref(garbage)
    del garbage
    assert garbage_ref() is not None  # the cycle keeps it alive until a collection
    try:
        frozen = freeze_start_up_heap()
        assert frozen >= 1
        assert 0 < gc.get_freeze_count() <= frozen  # other threads of the session may free frozen objects meanwhile
        tracked = {id(o) for o in gc.get_objects()}
        assert id(kept) not in tracked  # a full collection no longer walks it
        assert garbage_ref() is None  # freed before the freeze, not kept for ever
        later = _Node()
        assert id(later) in {id(o) for o in gc.get_objects()}  # what the process makes afterwards is collected
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.enable()
