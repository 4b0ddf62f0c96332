"""The time-ordered output queue shared by the API side and the thread that writes MIDI.

A plain heap of (tick, seq, bytes). heappush/heappop on tuples of ints and bytes run as single C
calls under the GIL, so the JACK callback can pop without taking a lock a preempted Python
thread might hold. Ticks are unbounded Python ints (JACK's 32-bit frame counter is unwrapped
before it gets here), so ordering never breaks at the wrap.
"""

from __future__ import annotations

import heapq
import itertools


class EventQueue:
    def __init__(self) -> None:
        self.heap: list[tuple[int, int, bytes]] = []
        self._seq = itertools.count()

    def push(self, tick: int, data: bytes) -> None:
        heapq.heappush(self.heap, (tick, next(self._seq), data))

    def clear(self) -> int:
        n = len(self.heap)
        self.heap.clear()
        return n

    def __len__(self) -> int:
        return len(self.heap)


def unwrap32(raw: int, reference: int) -> int:
    """The absolute tick nearest `reference` whose low 32 bits are `raw` (wrap-safe frame times)."""
    delta = (raw - reference) & 0xFFFFFFFF
    if delta >= 0x80000000:
        delta -= 0x100000000
    return reference + delta
