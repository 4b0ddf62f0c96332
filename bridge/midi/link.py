"""Ableton Link: follow (and lead) the tempo and beat of every Link peer on the network.

Optional (`pip install 'midibridge[link]'`, which brings `aalink`). While the clock source is "link", a task
reads Link's beat and tempo every `interval` and re-anchors the beat clock through `BeatClock.sync`, which
moves the grid only when Link's beat differs from the clock's by more than a millisecond, so the daemon's
bars are the session's bars (Link's quantum is the daemon's bar length). A tempo set on the daemon is
proposed to the session.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.midi.clock import BeatClock

log = logging.getLogger(__name__)


class LinkUnavailable(RuntimeError):
    pass


class LinkFollower:
    def __init__(self, clock: BeatClock, now, interval: float = 0.02) -> None:
        try:
            import aalink
        except ImportError as e:
            raise LinkUnavailable("Ableton Link needs the 'link' extra: pip install 'midibridge[link]' "
                                  f"(aalink: {e})") from e
        self.clock = clock
        self.now = now  # () -> backend tick
        self.interval = interval
        self.link = aalink.Link(clock.bpm)
        self.link.quantum = clock.state.beats_per_bar
        self.link.enabled = True
        self._task: asyncio.Task | None = None
        self.corrections = 0

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def propose_tempo(self, bpm: float) -> None:
        self.link.tempo = float(bpm)

    def follow_once(self) -> None:
        self.link.quantum = self.clock.state.beats_per_bar
        moved = self.clock.sync(float(self.link.tempo), float(self.link.beat), self.now(), tolerance_s=0.001,
                                source="link")
        if moved:
            self.corrections += 1

    async def _run(self) -> None:
        while True:
            try:
                self.follow_once()
            except Exception:
                log.exception("Link follow failed")
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.link.enabled = False
