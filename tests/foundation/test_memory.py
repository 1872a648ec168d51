"""Startup objects are frozen out of the garbage collector; later objects are still collected."""

from __future__ import annotations

import gc
import weakref

from instasched.kit.memory import freeze_startup_objects


class _Node:
    pass


def test_freeze_takes_live_objects_out_of_collection_but_not_later_ones() -> None:
    before = gc.get_freeze_count()
    kept = [[i] for i in range(1000)]  # containers the collector tracks
    freeze_startup_objects()
    assert gc.get_freeze_count() >= before + len(kept)
    # A reference cycle made after the freeze is still found and freed.
    node = _Node()
    node.self = node  # type: ignore[attr-defined]
    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is None
