"""The jam: a generated stream paced against the beat clock, steered from OSC and MIDI, call and response.

Lookahead and commit (in beats, after ReaLJam): the generation worker works up to `lookahead` beats ahead of
the playhead; a bar whose start comes within `commit` beats of the playhead is *committed*: appended to the
scheduler stream, announced to listeners, never changed again. Bars generated but not committed are
tentative: a control change drops them and the worker regenerates from the first uncommitted bar (it keeps a
snapshot of its caches before every bar). When a bar is not ready by the time it must be committed, the last
bar's harmony is held (chords and bass, no melody) instead of bunching notes or shifting the grid, the bar is
reported late, and the lookahead grows by a bar, so the next bars are requested earlier.

Call and response (after Magenta's MIDI interface): an armed call is collected from "midibridge in" in the
daemon's bars; every completed bar is fed to the worker while the musician still plays, so when the call
ends only the answer's bars remain to sample, and they are ready before the bar line that follows the call.

Harmonise: each bar of accompaniment is decided one beat before its bar line from the bar the musician just
played (a melody gets chords and bass under it; chords get a melody over them): the accompaniment follows
the player one bar behind, decided one beat ahead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bridge.daemon.generation_worker import LiveBar
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply
from bridge.generation.live import LiveControls
from bridge.generation.prompt import Controls, parse_prompt
from bridge.midi.engine import MidiEngine
from bridge.midi.events import NOTE_OFF, NOTE_ON, TimedEvent, note_off, note_on
from bridge.midi.scheduler import Stream

log = logging.getLogger(__name__)

ROLES = ("chords", "bass", "melody", "drums")
DEFAULT_CHANNELS = {"chords": 11, "bass": 12, "melody": 13, "drums": 9}  # 0-based: MIDI channels 12, 13, 14, 10
MAX_LOOKAHEAD = 32.0
STEP_INTERVAL = 0.01  # seconds between pacing steps (the scheduler feeds every 20 ms)

Send = Callable[[list[Reply], tuple[str, int]], None]


@dataclass
class JamSettings:
    """Everything the musician steers; `generate/start` and `generate/set` edit one of these."""

    controls: LiveControls = field(default_factory=LiveControls)
    muted: frozenset[str] = frozenset()
    channels: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    lookahead: float = 8.0  # beats
    commit: float = 4.0  # beats


def _key_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not value.strip():
        raise ProtocolError(f"control must be name=value, got {text[:60]!r}")
    return name.strip().lower(), value.strip()


def apply_controls(settings: JamSettings, items: tuple[str, ...], prompt: str = "") -> JamSettings:
    """Prompt words and name=value controls over `settings`; raises ProtocolError naming the valid range."""
    from bridge.generation.prompt import PromptError, check_prompt, parse_key_option

    base = settings.controls.base
    words = [prompt] + [s for s in items if "=" not in s]
    text = " ".join(w for w in words if w).strip()
    if text:
        try:  # the checks `midibridge generate` makes, through the parser search uses
            check_prompt(text)
        except PromptError as e:
            raise ProtocolError(str(e)) from None
        base = parse_prompt(text, base)
    density = settings.controls.density
    muted = set(settings.muted)
    channels = dict(settings.channels)
    lookahead, commit = settings.lookahead, settings.commit
    for item in (s for s in items if "=" in s):
        name, value = _key_value(item)
        try:
            if name == "key":
                try:
                    tonic, mode = parse_key_option(value)  # the parser search uses: one idea of what a key is
                except ValueError as e:
                    raise ProtocolError(str(e)) from None
                base = replace(base, tonic_pc=tonic, mode=mode or base.mode, key_given=True)
            elif name == "mode":
                if value not in ("major", "minor"):
                    raise ProtocolError(f"mode must be one of major, minor, got {value!r}")
                base = replace(base, mode=value)
            elif name == "meter":
                from bridge.generation.vocab import METERS

                if value not in METERS:
                    raise ProtocolError(f"meter must be one of {', '.join(METERS)}, got {value!r}")
                base = replace(base, meter=value)
            elif name == "tempo":
                base = replace(base, tempo_bpm=_ranged(name, float(value), 20, 300))
            elif name == "bars":
                base = replace(base, bars=int(_ranged(name, int(value), 0, 1024)))
            elif name == "temperature":
                base = replace(base, temperature=_ranged(name, float(value), 0, 2))
            elif name == "top_p":
                base = replace(base, top_p=_ranged(name, float(value), 0.05, 1))
            elif name == "seed":
                base = replace(base, seed=int(_ranged(name, int(value), 0, 2**31 - 1)))
            elif name == "density":
                density = None if value == "auto" else int(_ranged(name, int(value), 0, 3))
            elif name in ("mute", "unmute"):
                roles = [r.strip() for r in value.split(",")]
                bad = [r for r in roles if r not in ROLES]
                if bad:
                    raise ProtocolError(f"{name} takes roles among {', '.join(ROLES)}, got {bad[0]!r}")
                muted = muted | set(roles) if name == "mute" else muted - set(roles)
            elif name.startswith("channel_") and name[8:] in ROLES:
                channels[name[8:]] = int(_ranged(name, int(value), 1, 16)) - 1
            elif name == "lookahead":
                lookahead = _ranged(name, float(value), 2, MAX_LOOKAHEAD)
            elif name == "commit":
                commit = _ranged(name, float(value), 1, 16)
            else:
                raise ProtocolError(
                    f"unknown control {name!r}; controls: key, mode, meter, tempo, bars, temperature, top_p, "
                    "density, seed, lookahead, commit, mute, unmute, channel_chords, channel_bass, channel_melody, "
                    "channel_drums")
        except ValueError:
            raise ProtocolError(f"{name} must be a number, got {value!r}") from None
    if commit > lookahead:
        raise ProtocolError(f"commit ({commit:g} beats) must not exceed lookahead ({lookahead:g} beats)")
    return JamSettings(replace(settings.controls, base=base, density=density), frozenset(muted), channels,
                       lookahead, commit)


def _ranged(name: str, value: float, lo: float, hi: float) -> float:
    if not lo <= value <= hi:
        raise ProtocolError(f"{name} must be in {lo:g}..{hi:g}, got {value:g}")
    return value


def bar_events(bar: LiveBar, settings: JamSettings) -> list[TimedEvent]:
    """A generated bar as beat-timed MIDI events on the roles' channels, muted roles left out."""
    out: list[TimedEvent] = []
    for role, start, dur, pitch, vel in bar.notes:
        if role in settings.muted or not 0 <= pitch <= 127:
            continue
        ch = settings.channels.get(role, 0)
        s = max(0.0, float(start))
        e = min(bar.beats, s + max(float(dur) - 1e-6, 1e-4))
        out.append(TimedEvent(s, 1, note_on(ch, int(pitch), int(vel))))
        out.append(TimedEvent(e, 0, note_off(ch, int(pitch))))
    out.sort()
    return out


def held_bar(previous: LiveBar | None, index: int) -> LiveBar | None:
    """What plays when a bar is not ready in time: the previous bar's harmony (chords and bass), no melody."""
    if previous is None:
        return None
    notes = tuple(n for n in previous.notes if n[0] != "melody")
    return replace(previous, index=index, notes=notes, generate_ms=0.0)


@dataclass
class Listener:
    request_id: int
    address: tuple[str, int]


@dataclass
class Call:
    """Call and response in progress: the player's notes in the daemon's beats."""

    request_id: int
    sender: tuple[str, int]
    mode: str  # "respond" | "harmonize"
    bars: int  # 0: until silence
    notes: list[tuple[float, float, int, int]] = field(default_factory=list)  # start, dur, pitch, velocity
    open: dict[int, tuple[float, int]] = field(default_factory=dict)
    start_bar: int | None = None
    last_event_beat: float = 0.0
    fed_bars: int = 0
    answered: bool = False


class JamSession:
    """One stream at a time (a jam partner, not a sequencer): start, set, stop, listen, call."""

    def __init__(self, midi: MidiEngine, worker_call: Callable, send: Send, cc_start: int = 20,
                 cc_call: int = 21, role_ports: bool = False) -> None:
        self.midi = midi
        self.call_worker = worker_call  # async (name, *args) -> result, in the generation worker
        self.send = send
        self.settings = JamSettings()
        self.state = "stopped"  # stopped | starting | playing | finished
        self.stream: Stream | None = None
        self.start_beat = 0.0
        self.bar_beats = 4.0
        self.committed = 0  # bars appended to the stream
        self.next_request = 0  # the next bar index to ask the worker for
        self.ready: dict[int, LiveBar] = {}
        self.last_bar: LiveBar | None = None
        self.epoch = 0
        self.in_flight = False
        self.late_bars = 0
        self.held_bars = 0
        self.min_ready_lead_ms = float("inf")
        self.generate_ms: list[float] = []
        self.lookahead = self.settings.lookahead
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.call: Call | None = None
        self.cc_start, self.cc_call = cc_start, cc_call
        self.role_ports = role_ports  # each role also on its own port ("midibridge:melody"...), JACK only
        if role_ports:
            self._route_roles()
        self.control_sender: tuple[str, int] | None = None
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        midi.input_listeners.append(self.on_input)

    # ------------------------------------------------------------------ lifecycle

    def start_loop(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.stop_stream()

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # the jam must never take the daemon down
                log.exception("jam step failed")
            try:
                await asyncio.wait_for(self._wake.wait(), STEP_INTERVAL)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    # ------------------------------------------------------------------ requests

    async def start(self, prompt: str, items: tuple[str, ...]) -> tuple[float, JamSettings]:
        settings = apply_controls(JamSettings(LiveControls(Controls(bars=0, temperature=0.9)),
                                              channels=dict(self.settings.channels)), items, prompt)
        base = settings.controls.base
        if not _tempo_stated(base, items):  # the models hear the tempo the stream will actually play at
            base = replace(base, tempo_bpm=float(self.midi.clock.bpm))
            settings = replace(settings, controls=replace(settings.controls, base=base))
        if self.midi.io.backend == "none":
            raise ProtocolError(f"no MIDI output: {self.midi.io.problem}")
        # The stream's meter sets the daemon's bars (a host clock may set them again).
        from bridge.generation.encoding import Song

        bar_q = Song(base.tonic_pc, base.mode, base.meter, base.tempo_bpm).bar_quarters
        after = self.stream.end_beat if self.stream is not None and not self.stream.cancelled else None
        self.epoch += 1
        epoch = self.epoch
        self.state = "starting"
        words = tuple(w for w in (prompt, *(i for i in items if "=" not in i)) if w)
        started = await self.call_worker("start", settings.controls, words)
        first = await self.call_worker("bars", 2, None, None, base.bars - 1 if base.bars else -1)
        if epoch != self.epoch:
            raise ProtocolError("replaced by a newer start")
        if self.stream is not None:
            # The old stream plays out what it committed (up to `after`) and then closes itself.
            self.stream.on_low_water = None
        clock = self.midi.clock
        if clock.source == "internal" and clock.state.beats_per_bar != bar_q:
            clock.set_meter(bar_q, self.midi.io.now())
        if clock.source == "internal" and abs(clock.bpm - base.tempo_bpm) > 1e-6 and _tempo_stated(base, items):
            clock.set_tempo(base.tempo_bpm, self.midi.io.now())
        start = self.midi.scheduler.next_boundary("bar")
        if after is not None and after > start:
            start = float(np.ceil((after - 1e-9) / bar_q) * bar_q)
        self.settings = settings
        self._route_roles()
        self.lookahead = settings.lookahead
        self.bar_beats = bar_q
        self.start_beat = start
        self.committed = 0
        self.next_request = 2
        self.ready = {b.index: b for b in first}
        self.last_bar = None
        self.late_bars = self.held_bars = 0
        self.min_ready_lead_ms = float("inf")
        self.generate_ms = [b.generate_ms for b in first]
        self.stream = self.midi.scheduler.open_stream("jam", lambda s: self._wake.set(), settings.commit)
        self.programs = dict(started.get("programs", {})) if isinstance(started, dict) else {}
        # Each role's instrument (General MIDI program) just before the first bar line.
        self.stream.append([TimedEvent(0.0, 0, bytes((0xC0 | settings.channels[r], p & 0x7F)))
                            for r, p in self.programs.items() if r != "drums" and r in settings.channels], start)
        self.state = "playing"
        self.in_flight = False
        await self.step()
        self.broadcast_state()
        return start, settings

    async def set(self, items: tuple[str, ...]) -> float:
        if self.state not in ("playing", "starting"):
            raise ProtocolError("no stream playing: /midibridge/generate/start first")
        new = apply_controls(self.settings, items)
        if new.controls.base.meter != self.settings.controls.base.meter:
            raise ProtocolError("the meter cannot change in a running stream: stop and start one in the new meter")
        regenerate = new.controls != self.settings.controls
        self.settings = new
        self._route_roles()
        self.lookahead = max(self.lookahead, new.lookahead)
        self.stream.low_water_beats = new.commit
        from_bar = self.committed
        if regenerate:
            self.epoch += 1
            self.ready = {}
            self.next_request = from_bar
            await self.call_worker("rewind", from_bar, new.controls)
            self.in_flight = False
            self._wake.set()
        self.broadcast_state()
        return self.start_beat + from_bar * self.bar_beats

    def stop_stream(self) -> int:
        played = self.committed
        if self.stream is not None:
            self.stream.cancel()
        self.stream = None
        self.epoch += 1
        self.ready = {}
        if self.state != "stopped":
            self.state = "stopped"
            self.broadcast_state()
        return played

    def _route_roles(self) -> None:
        """With role ports, each role's channel goes out of the port named after the role."""
        add = getattr(self.midi.io, "add_output_port", None)
        if not self.role_ports or add is None:
            return
        for role in ROLES:
            add(role, {self.settings.channels[role]})

    # ------------------------------------------------------------------ pacing

    def _lead_beats(self) -> float:
        ticks = self.midi.scheduler.start_lead_ticks()
        return ticks * self.midi.clock.bpm / (60.0 * self.midi.io.rate)

    async def step(self) -> None:
        if self.call is not None:
            await self._call_step()
        if self.state != "playing" or self.stream is None:
            return
        if self.stream.cancelled:  # /midibridge/play/stop or panic stopped all playback, this stream too
            self.stop_stream()
            return
        sched = self.midi.scheduler
        playhead = sched.playhead()
        total = self.settings.controls.base.bars
        lead = self._lead_beats()
        while not total or self.committed < total:
            k = self.committed
            bar_start = self.start_beat + k * self.bar_beats
            if bar_start - playhead > self.settings.commit and k > 0:
                break
            bar = self.ready.pop(k, None)
            if bar is not None:
                self._commit(bar, bar_start, playhead)
                continue
            if bar_start - playhead > lead:
                break  # not ready yet, but there is still time
            # Late: hold the harmony for this bar rather than bunch notes or shift the grid.
            held = held_bar(self.last_bar, k)
            self.late_bars += 1
            self.held_bars += 1
            self.lookahead = min(MAX_LOOKAHEAD, self.lookahead + self.bar_beats)
            log.warning("bar %d was not ready %.0f ms before its bar line: holding the harmony", k,
                        lead * 60000.0 / self.midi.clock.bpm)
            if held is not None:
                self._commit(held, bar_start, playhead, was_held=True)
            else:
                self.committed += 1
            if self.next_request <= k:
                self.next_request = k + 1
        if total and self.committed >= total and playhead >= self.start_beat + total * self.bar_beats:
            self.state = "finished"
            self.stream = None
            self.broadcast_state()
            return
        await self._request_more(playhead)

    def _commit(self, bar: LiveBar, bar_start: float, playhead: float, was_held: bool = False) -> None:
        events = bar_events(bar, self.settings)
        self.stream.append(events, bar_start)
        if not was_held:
            lead_ms = (bar_start - playhead) * 60000.0 / self.midi.clock.bpm
            self.min_ready_lead_ms = min(self.min_ready_lead_ms, lead_ms)
            self.last_bar = bar
        self.committed += 1
        roles = sorted({n[0] for n in bar.notes} - set(self.settings.muted))
        for listener in self.listeners.values():
            self.send([Reply(f"{PREFIX}/generate/bar", (listener.request_id, bar.index, round(bar_start, 4),
                                                        " ".join(bar.chords), ",".join(roles), int(was_held)))],
                      listener.address)
        # The worker may forget the snapshots of committed bars: they are never regenerated (bounded memory).
        self._spawn(self.call_worker("commit", self.committed))

    async def _request_more(self, playhead: float) -> None:
        if self.in_flight:
            return
        total = self.settings.controls.base.bars
        k = max(self.next_request, self.committed)
        if total and k >= total:
            return
        if self.start_beat + k * self.bar_beats - playhead > self.lookahead:
            return
        self.in_flight = True
        epoch = self.epoch
        final_at = total - 1 if total else -1

        async def fetch() -> None:
            try:
                bars = await self.call_worker("bars", 1, None, None, final_at)
            except Exception as e:
                log.warning("generation failed: %s", e)
                bars = []
            finally:
                if epoch == self.epoch:
                    self.in_flight = False
            if epoch != self.epoch:
                return  # controls changed meanwhile: this bar was generated for the old ones
            for bar in bars:
                self.generate_ms.append(bar.generate_ms)
                del self.generate_ms[:-256]
                if bar.index >= self.committed:
                    self.ready[bar.index] = bar
                self.next_request = max(self.next_request, bar.index + 1)
            self._wake.set()

        self._spawn(fetch())

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ listen

    def listen(self, request_id: int, address: tuple[str, int], on: bool) -> None:
        if on:
            self.listeners[address] = Listener(request_id, address)
            self.send([self.state_reply(request_id)], address)
        else:
            self.listeners.pop(address, None)

    def state_pairs(self) -> list[tuple[str, object]]:
        b = self.settings.controls.base
        from bridge.analysis.names import tonic_name

        playhead = self.midi.scheduler.playhead()
        bar = int((playhead - self.start_beat) // self.bar_beats) if self.state == "playing" else -1
        return [("state", self.state), ("key", f"{tonic_name(b.tonic_pc, b.mode)} {b.mode}"), ("meter", b.meter),
                ("tempo", float(round(self.midi.clock.bpm, 3))), ("bar", bar), ("bars", int(b.bars)),
                ("temperature", float(b.temperature)), ("top_p", float(b.top_p)),
                ("density", -1 if self.settings.controls.density is None else int(self.settings.controls.density)),
                ("muted", ",".join(sorted(self.settings.muted))), ("lookahead", float(self.lookahead)),
                ("commit", float(self.settings.commit)), ("late_bars", int(self.late_bars)),
                ("held_bars", int(self.held_bars)),
                ("call", "" if self.call is None else self.call.mode)]

    def state_reply(self, request_id: int) -> Reply:
        flat: list[object] = [request_id]
        for k, v in self.state_pairs():
            flat += [k, v]
        return Reply(f"{PREFIX}/generate/state", tuple(flat))

    def broadcast_state(self) -> None:
        for listener in self.listeners.values():
            self.send([self.state_reply(listener.request_id)], listener.address)

    def status(self) -> dict:
        ms = sorted(self.generate_ms)
        return {"jam": self.state, "jam_bars": self.committed, "jam_late_bars": self.late_bars,
                "jam_held_bars": self.held_bars,
                "jam_min_lead_ms": round(self.min_ready_lead_ms, 1) if self.min_ready_lead_ms != float("inf") else -1.0,
                "jam_bar_ms_p50": round(ms[len(ms) // 2], 2) if ms else -1.0,
                "jam_bar_ms_p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2) if ms else -1.0}

    # ------------------------------------------------------------------ MIDI in: controls and calls

    def on_input(self, tick: int, data: bytes) -> None:
        if len(data) == 3 and data[0] & 0xF0 == 0xB0 and data[1] in (self.cc_start, self.cc_call):
            self._spawn(self._midi_control(data[1], data[2]))
            return
        call = self.call
        if call is None or call.answered or len(data) != 3 or data[0] & 0xF0 not in (NOTE_ON, NOTE_OFF):
            return
        beat = self.midi.clock.beat_at(tick)
        pitch, on = data[1], data[0] & 0xF0 == NOTE_ON and data[2] > 0
        if on:
            if call.start_bar is None:
                bar_q = self.midi.clock.state.beats_per_bar
                # A note within an eighth before a bar line is the call's downbeat played early.
                call.start_bar = int(np.floor((beat + 0.5) / bar_q))
            call.open[pitch] = (beat, data[2])
        elif pitch in call.open:
            start, vel = call.open.pop(pitch)
            call.notes.append((start, max(beat - start, 0.05), pitch, vel))
        call.last_event_beat = beat

    async def _midi_control(self, cc: int, value: int) -> None:
        try:
            if cc == self.cc_start:
                if value >= 64 and self.state != "playing":
                    await self.start("", ())
                elif value < 64:
                    self.stop_stream()
            elif cc == self.cc_call:
                if value >= 64:
                    self.arm_call(-1, ("127.0.0.1", 0), "respond", 0)
                else:
                    self.call = None
        except ProtocolError as e:
            log.warning("MIDI control CC %d: %s", cc, e.reason)

    def arm_call(self, request_id: int, sender: tuple[str, int], mode: str, bars: int) -> None:
        self.call = Call(request_id, sender, mode, bars)
        self.broadcast_state()

    def disarm_call(self) -> None:
        self.call = None
        if self.state == "harmonizing":  # the accompaniment ends with the call; what it committed plays out
            self.stream = None
            self.state = "stopped"
        self.broadcast_state()

    def _call_notes(self) -> list[tuple[float, float, int, int]]:
        """The call's notes so far; a key still held counts up to the playhead."""
        call = self.call
        now = self.midi.scheduler.playhead()
        return list(call.notes) + [(s, max(now - s, 0.05), p, v) for p, (s, v) in call.open.items()]

    def _call_bars(self, call: Call, n_bars: int, controls: LiveControls):
        """The call's first `n_bars` bars as model bars (chords derived), with the key heard so far."""
        from bridge.analysis import estimate_key
        from bridge.generation.encoding import song_from_notes
        from bridge.music import NoteList

        b = controls.base
        origin = call.start_bar * self.bar_beats
        notes = [n for n in self._call_notes() if n[0] - origin < n_bars * self.bar_beats]
        rows = np.array([[s - origin, d, p] for s, d, p, _ in notes], dtype=np.float64).reshape(-1, 3)
        rows = rows[rows[:, 0] >= -0.5] if len(rows) else rows
        rows[:, 0] = np.maximum(rows[:, 0], 0.0) if len(rows) else rows[:, 0]
        if len(rows) >= 3:
            k = estimate_key(NoteList.from_tuples([(float(s), float(d), int(p)) for s, d, p in rows]))
            b = replace(b, tonic_pc=k.tonic_pc, mode=k.mode)
        controls = replace(controls, base=b)
        if not len(rows):
            return [], controls
        lower = rows if _is_chordal(rows) else np.zeros((0, 3))
        song = song_from_notes(rows, lower, b.tonic_pc, b.mode, b.meter, self.midi.clock.bpm)
        return list(song.bars[:n_bars]), controls

    async def _call_step(self) -> None:
        call = self.call
        if call.start_bar is None or call.answered:
            return
        playhead = self.midi.scheduler.playhead()
        bar_q = self.bar_beats = self.midi.clock.state.beats_per_bar
        origin = call.start_bar * bar_q
        complete = int((playhead - origin) // bar_q)
        if call.mode == "harmonize":
            await self._harmonize_step(call, playhead)
            return
        meter = _meter_for(bar_q)
        base = replace(self.settings.controls.base, meter=meter, bars=0)
        controls = replace(self.settings.controls, base=base)
        if call.bars:
            end = origin + call.bars * bar_q
            if playhead < end - 1.0:
                if complete > call.fed_bars:  # a bar of the call is complete: into the models' context now
                    bars, controls = self._call_bars(call, complete, controls)
                    await self.call_worker("prefill", bars, controls)
                    call.fed_bars = complete
                return
            n = call.bars
        else:
            silence = self.midi.capture.silence_beats
            if call.open or playhead - call.last_event_beat < silence or not call.notes:
                if complete > call.fed_bars and not call.open:
                    bars, controls = self._call_bars(call, complete, controls)
                    await self.call_worker("prefill", bars, controls)
                    call.fed_bars = complete
                return
            n = max(1, int(np.ceil((call.last_event_beat - origin - 1e-6) / bar_q)))
            end = origin + n * bar_q
        call.answered = True
        t0 = time.perf_counter()
        bars, controls = self._call_bars(call, n, controls)
        await self.call_worker("prefill", bars, controls)
        answer = await self.call_worker("bars", n, None, None, n - 1 + len(bars))
        lead = self._lead_beats()
        start = end
        now = self.midi.scheduler.playhead()
        if start - now < lead:  # the call ended by silence and its bar line has passed: the next one
            start = float(np.ceil((now + lead) / bar_q) * bar_q)
        ready_ms = (start - self.midi.scheduler.playhead()) * 60000.0 / self.midi.clock.bpm
        self._play_answer(answer, start, controls)
        key = answer[0].key if answer else ""
        log.info("call of %d bars answered in %.0f ms, %.0f ms before its bar line", n,
                 (time.perf_counter() - t0) * 1000.0, ready_ms)
        self.send([Reply(f"{PREFIX}/generate/call/answer", (call.request_id, round(start, 4), n, key,
                                                            round(ready_ms, 1)))], call.sender)
        # Ready for the next call once the answer has played.
        self._spawn(self._rearm_after(start + n * bar_q, call))

    def _play_answer(self, answer: list[LiveBar], start: float, controls: LiveControls) -> None:
        stream = self.midi.scheduler.open_stream("answer")
        settings = replace(self.settings, muted=self.settings.muted)
        for i, bar in enumerate(answer):
            stream.append(bar_events(bar, settings), start + i * self.bar_beats)
        self.min_ready_lead_ms = min(self.min_ready_lead_ms,
                                     (start - self.midi.scheduler.playhead()) * 60000.0 / self.midi.clock.bpm)

    async def _rearm_after(self, beat: float, call: Call) -> None:
        while self.call is call and self.midi.scheduler.playhead() < beat:
            await asyncio.sleep(0.05)
        if self.call is call:
            self.call = Call(call.request_id, call.sender, call.mode, call.bars)

    async def _harmonize_step(self, call: Call, playhead: float) -> None:
        """Continuous accompaniment: one beat before each bar line, the bar just played decides the next."""
        bar_q = self.bar_beats
        origin = call.start_bar * bar_q
        k = int((playhead + 1.0 - origin) // bar_q)  # the bar whose line comes within a beat
        if k <= call.fed_bars or k < 1:
            return
        call.fed_bars = k
        window_end = origin + k * bar_q - 1.0
        notes = [n for n in self._call_notes() if window_end - bar_q <= n[0] < window_end]
        meter = _meter_for(bar_q)
        base = replace(self.settings.controls.base, meter=meter, bars=0)
        controls = replace(self.settings.controls, base=base)
        if self.stream is None or self.state != "playing":
            await self.call_worker("start", controls, ())
            self.stream = self.midi.scheduler.open_stream("harmonize")
            self.state = "harmonizing"
        rows = np.array([[s - (window_end - bar_q), d, p] for s, d, p, _ in notes]).reshape(-1, 3)
        if not len(rows):
            return
        from bridge.generation.encoding import song_from_notes

        chordal = _is_chordal(rows)
        song = song_from_notes(rows, rows if chordal else np.zeros((0, 3)), base.tonic_pc, base.mode, meter,
                               self.midi.clock.bpm)
        heard = song.bars[0]
        if chordal:
            bars = await self.call_worker("bars", 1, None, heard.chords, -1, True)
            settings = replace(self.settings, muted=frozenset({"chords", "bass"}))
        else:
            bars = await self.call_worker("bars", 1, heard.notes, None, -1, False)
            settings = replace(self.settings, muted=frozenset({"melody"}))
        start = origin + k * bar_q
        if bars and self.stream is not None:
            self.stream.append(bar_events(bars[0], settings), start)
            for listener in self.listeners.values():
                self.send([Reply(f"{PREFIX}/generate/bar", (listener.request_id, k, round(start, 4),
                                                            " ".join(bars[0].chords), "harmonize", 0))],
                          listener.address)


def _tempo_stated(base: Controls, items: tuple[str, ...]) -> bool:
    """Whether the musician asked for a tempo (a number, a tempo word, a dance): only then does a stream set
    the internal clock; otherwise it plays at the clock's tempo (the DAW's, when one drives it)."""
    return base.tempo_given or any(i.lower().startswith("tempo=") for i in items)


def _is_chordal(rows: np.ndarray) -> bool:
    """Three or more notes sounding together most of the time: the player is playing chords."""
    if len(rows) < 3:
        return False
    onsets = np.round(rows[:, 0] * 4) / 4
    _, counts = np.unique(onsets, return_counts=True)
    return float(np.mean(counts >= 3)) >= 0.5


def _meter_for(bar_quarters: float) -> str:
    return {2.0: "2/4", 3.0: "3/4", 4.0: "4/4", 1.5: "3/8", 6.0: "6/4"}.get(float(bar_quarters), "4/4")
