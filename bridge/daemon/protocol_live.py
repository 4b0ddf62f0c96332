"""The live-generation (jam) part of the OSC address space: start, steer and stop a generated stream,
listen to what is coming, call and response, harmonise what is played, follow an external clock.

Kept beside `protocol.py` (which includes these tables) so the jam addresses read as one group.
"""

from __future__ import annotations

from bridge.daemon.protocol import MAX_ID, MAX_TEXT, PREFIX, Address, Arg, ReplySpec

_P = PREFIX

CONTROL = Arg("control", "s", "name=value control: key (e.g. 'D minor'), mode (major|minor), meter (3/4), tempo "
              "(20..300 BPM), bars (0 = endless, 1..1024), temperature (0..2), top_p (0.05..1), density (0..3), "
              "seed, lookahead (beats, 2..32), commit (beats, 1..16), mute / unmute (chords|bass|melody|drums), "
              "channel_chords / channel_bass / channel_melody / channel_drums (1..16); strings without '=' are "
              "more prompt words")

LIVE_REQUESTS: tuple[Address, ...] = (
    Address(f"{_P}/generate/start", "Start a generated stream (chords, bass, melody) at the next bar line; a "
            "running stream is replaced at that bar line.",
            args=(Arg("prompt", "s", "what to play, e.g. 'a slow melancholic waltz in D minor' (may be empty)",
                      optional=True, default=""),),
            rest=CONTROL,
            replies=(f"{_P}/generate/start",),
            example='iss 30 "a slow melancholic waltz in D minor" "bars=16"'),
    Address(f"{_P}/generate/stop", "Stop the stream now; every sounding note of it gets its note-off.",
            replies=(f"{_P}/generate/stop",), example="i 31"),
    Address(f"{_P}/generate/set", "Change controls of the running stream; they take effect at the next bar line "
            "that is not yet committed.",
            args=(CONTROL,), rest=CONTROL,
            replies=(f"{_P}/generate/set",), example='iss 32 "key=A minor" "temperature=0.8"'),
    Address(f"{_P}/generate/listen", "Send the stream state to the sender now and on every change, plus one "
            "/midibridge/generate/bar per bar (0 stops listening).",
            args=(Arg("on", "i", "1: listen, 0: stop listening", 0, 1, optional=True, default=1),),
            replies=(f"{_P}/generate/state", f"{_P}/generate/bar"), example="ii 33 1"),
    Address(f"{_P}/generate/call/start", "Call and response: the next phrase played into the in port is answered "
            "with as many bars continuing it (respond), or accompanied bar by bar (harmonize: chords under a "
            "melody, a melody over chords).",
            args=(Arg("mode", "s", "respond, or harmonize", choices=("respond", "harmonize"), optional=True,
                      default="respond"),
                  Arg("bars", "i", "length of the call in bars (0: until a silence ends the phrase)", 0, 32,
                      optional=True, default=0)),
            replies=(f"{_P}/generate/call/start", f"{_P}/generate/call/answer"), example='isi 34 respond 2'),
    Address(f"{_P}/generate/call/stop", "Disarm call and response (a running answer plays to its end).",
            replies=(f"{_P}/generate/call/stop",), example="i 35"),
    Address(f"{_P}/clock/sync", "Follow the host's transport: tempo and the beat position now (what the Max for "
            "Live device sends from Live), so the daemon's bars are the host's bars.",
            args=(Arg("bpm", "f", "quarter notes per minute", 20.0, 300.0),
                  Arg("beat", "f", "the host's song position now, in quarter notes", 0.0, 1e7),
                  Arg("beats_per_bar", "i", "quarter notes per bar", 1, 16, optional=True, default=4)),
            replies=(f"{_P}/tempo/get",), example="iffi 36 120 16 4"),
    Address(f"{_P}/panic", "Stop everything now: every note gets its note-off, then All Notes Off and All Sound Off "
            "on every channel the daemon used (all: on all 16, for notes an earlier, killed daemon left sounding).",
            args=(Arg("all", "i", "1: all 16 channels", 0, 1, optional=True, default=0),),
            replies=(f"{_P}/panic",), example="ii 38 1"),
    Address(f"{_P}/latency/set", "Output latency compensation: MIDI goes out this many ms earlier (0..500), on "
            "every port, or on one port (out, or a role's port with --role-ports).",
            args=(Arg("ms", "f", "milliseconds", 0.0, 500.0),
                  Arg("port", "s", "all, out, chords, bass, melody or drums", optional=True, default="all",
                      choices=("all", "out", "chords", "bass", "melody", "drums"))),
            replies=(f"{_P}/latency/set",), example="ifs 37 12 melody"),
)

LIVE_REPLIES: tuple[ReplySpec, ...] = (
    ReplySpec(f"{_P}/generate/start", "Stream scheduled.",
              "i id, f start_beat, s key, s meter, f tempo, i bars (0 endless)"),
    ReplySpec(f"{_P}/generate/stop", "Stream stopped.", "i id, i bars_played"),
    ReplySpec(f"{_P}/generate/set", "Controls accepted.", "i id, f from_beat"),
    ReplySpec(f"{_P}/generate/state", "Stream state as key/value pairs (now and on every change).",
              "i id, then (s key, value) pairs: state, key, meter, tempo, bar, temperature, top_p, density, muted, "
              "lookahead, commit, late_bars, held_bars"),
    ReplySpec(f"{_P}/generate/bar", "A bar entered the commit horizon (what is coming).",
              "i id, i bar (0-based), f start_beat, s chord symbols (space separated, one per beat), "
              "s roles playing (comma separated), i held (1: generation was late, the last bar is held)"),
    ReplySpec(f"{_P}/generate/call/start", "Call and response armed.", "i id, s mode, i bars"),
    ReplySpec(f"{_P}/generate/call/answer", "The answer to a call is scheduled.",
              "i id, f start_beat, i bars, s key, f ready_ms_before_bar_line"),
    ReplySpec(f"{_P}/generate/call/stop", "Disarmed.", "i id"),
    ReplySpec(f"{_P}/panic", "Everything released.", "i id, i events_cancelled"),
    ReplySpec(f"{_P}/latency/set", "Latency compensation in use.", "i id, f ms, s port"),
)

__all__ = ["LIVE_REQUESTS", "LIVE_REPLIES", "MAX_ID", "MAX_TEXT"]
