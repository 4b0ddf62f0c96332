"""Everything MIDI in one place for the daemon: transport, beat clock, scheduler and phrase capture."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bridge.midi.capture import PhraseCapture
from bridge.midi.clock import BeatClock
from bridge.midi.events import TimedEvent
from bridge.midi.ports import MidiIO
from bridge.midi.scheduler import Scheduled, Scheduler
from bridge.music import Piece

log = logging.getLogger(__name__)

PhraseListener = Callable[[Piece], None]
# Every incoming channel message (after clock messages are taken out) with its tick: the jam listens here
# for its call-and-response notes and for the mappable start/stop control.
InputListener = Callable[[int, bytes], None]


class MidiEngine:
    def __init__(self, io: MidiIO, bpm: float = 120.0, silence_beats: float = 2.0,
                 input_interval: float = 0.01) -> None:
        self.io = io
        self.clock = BeatClock(io.rate, io.now(), bpm)
        self.scheduler = Scheduler(io, self.clock)
        self.capture = PhraseCapture(io.rate, lambda: self.clock.bpm, silence_beats)
        self.input_interval = input_interval
        self.listeners: list[PhraseListener] = []
        self.input_listeners: list[InputListener] = []
        self.link = None  # bridge.midi.link.LinkFollower while the clock source is "link"
        self.transport = None  # bridge.midi.jack_transport.JackTransportFollower while it is "jack"
        self.last_phrase: Piece | None = None
        self.phrases = 0
        self.input_events = 0
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self.scheduler.run()), asyncio.ensure_future(self._pump_input())]

    async def shutdown(self) -> None:
        for t in self._tasks:
            t.cancel()
        self._close_followers()
        self.scheduler.stop()
        # close() waits (off the loop) until the writer has sent every note-off.
        await asyncio.get_running_loop().run_in_executor(None, self.io.close)

    def play(self, events: list[TimedEvent], at: str = "bar") -> Scheduled:
        return self.scheduler.play(events, at)

    def set_clock_source(self, source: str) -> None:
        """internal | midi | link (Ableton Link: raises LinkUnavailable without the extra) | jack (JACK
        transport: raises JackTransportUnavailable on another backend)."""
        if source == "jack":
            self._close_followers()
            from bridge.midi.jack_transport import JackTransportFollower

            self.transport = JackTransportFollower(self.io, self.clock)
            self.transport.follow_once()
            self.transport.start()
            return
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        if source == "link":
            if self.link is None:
                from bridge.midi.link import LinkFollower

                self.link = LinkFollower(self.clock, self.io.now)
                self.link.start()
            self.link.follow_once()
            return
        if self.link is not None:
            self.link.close()
            self.link = None
        self.clock.set_source(source, self.io.now())

    def _close_followers(self) -> None:
        for follower in (self.link, self.transport):
            if follower is not None:
                follower.close()
        self.link = self.transport = None

    def set_tempo(self, bpm: float) -> None:
        if self.link is not None:
            self.link.propose_tempo(bpm)  # the session's tempo: every peer follows, and so do we
        self.clock.set_tempo(bpm, self.io.now())

    def stop(self) -> int:
        """Stop all playback: note-offs for what sounds, then All Notes Off / All Sound Off on the channels
        used (a synth that missed a note-off, or a note a DAW re-triggered, is silenced too)."""
        return self.scheduler.panic(every_channel=False)

    def panic(self, every_channel: bool = False) -> int:
        return self.scheduler.panic(every_channel)

    def end_phrase(self) -> Piece | None:
        piece = self.capture.finish(self.io.now())
        if piece is not None:
            self._phrase_done(piece)
        return piece

    def _phrase_done(self, piece: Piece) -> None:
        self.last_phrase = piece
        self.phrases += 1
        log.info("captured a phrase of %d notes", len(piece.notes))
        for listener in list(self.listeners):
            try:
                listener(piece)
            except Exception:
                log.exception("phrase listener failed")

    async def _pump_input(self) -> None:
        while True:
            try:
                for tick, data in self.io.drain_input():
                    self.input_events += 1
                    if not self.clock.midi_input(tick, data):
                        self.capture.feed(tick, data)
                        for listener in self.input_listeners:
                            try:
                                listener(tick, data)
                            except Exception:
                                log.exception("MIDI input listener failed")
                piece = self.capture.poll(self.io.now())
                if piece is not None:
                    self._phrase_done(piece)
            except Exception:
                log.exception("MIDI input handling failed")
            await asyncio.sleep(self.input_interval)

    def status(self) -> dict:
        now = self.io.now()
        return {
            **self.io.status(),
            "clock": self.clock.as_dict(now),
            "link_peers": self.link.peers if self.link is not None else -1,
            "pending": self.scheduler.pending,
            "streams": len(self.scheduler.streams),
            "latency_ms": self.scheduler.latency_ms,
            "capturing": self.capture.active,
            "silence_beats": self.capture.silence_beats,
            "phrases": self.phrases,
            "input_events": self.input_events,
        }
