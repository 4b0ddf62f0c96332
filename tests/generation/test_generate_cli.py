"""`midibridge generate` through the real CLI: clear errors, instruments and tracks that hold in the written
file, --continue/--harmonize that keep every user note, and the repetition guard at temperature 0."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from bridge.cli.main import main
from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents
from bridge.generation.generate import Biases, generate_melody, repetition_bias
from bridge.generation.prompt import Controls
from bridge.generation.runtime import DEFAULT_MODEL_DIR

shipped = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "backbone.onnx").exists(), reason="no shipped model")


def _run(*args):
    return CliRunner().invoke(main, ["generate", *args], catch_exceptions=False)


@pytest.mark.parametrize("args,message", [
    (["x", "--key", "banana"], "not a key: 'banana'"),
    (["a tune in H minor"], "'in H minor' names no key"),
    (["a tune in 5/4"], "meter 5/4 is not supported"),
    (["a reel at 400 bpm"], "tempo 400 BPM is outside 20-300 BPM"),
    (["x", "--instruments", "zzz"], "unknown instrument 'zzz'"),
    (["x", "--instruments", "kazoo=flute"], "unknown track 'kazoo'"),
    (["x", "--tracks", "chords,foo"], "unknown track 'foo'"),
    (["x", "--channels", "drums=3"], "drums play on channel 10"),
    (["x", "--channels", "melody=10"], "channel 10 is the General MIDI drum channel"),
    (["x", "--channels", "melody=2,bass=2"], "channel 2 is given to two tracks"),
    (["x", "--channels", "melody=17"], "channels are 1-16"),
])
def test_bad_requests_get_one_clear_line(tmp_path, args, message):
    out = tmp_path / "x.mid"
    r = _run(*args, "--out", str(out))
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output and not out.exists()


def test_out_in_a_missing_folder_is_a_clear_error(tmp_path):
    r = _run("x", "--out", str(tmp_path / "no" / "such" / "x.mid"))
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output


def _tracks(path):
    """[(track name, channels, programs, notes)] of a written file, read with mido (channels as written)."""
    mid = mido.MidiFile(str(path))
    rows = []
    for tr in mid.tracks:
        notes = [m for m in tr if m.type == "note_on" and m.velocity]
        if notes:
            rows.append((tr.name, {m.channel for m in notes},
                         {m.program for m in tr if m.type == "program_change"}, len(notes)))
    return rows


@shipped
def test_prompt_instruments_hold_in_the_file(tmp_path):
    out = tmp_path / "w.mid"
    r = _run("a waltz for strings and harp in D minor", "--bars", "8", "--seed", "1", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    rows = {name: (ch, progs) for name, ch, progs, _ in _tracks(out)}
    assert rows["melody"][1] == {48} and rows["chords"][1] == {46}  # String Ensemble 1, Orchestral Harp
    assert len({next(iter(ch)) for ch, _ in rows.values()}) == len(rows)  # one channel per track


@shipped
def test_instrument_tracks_and_channel_options_hold(tmp_path):
    out = tmp_path / "j.mid"
    r = _run("a jig", "--instruments", "melody=fiddle,chords=guitar,bass=cello,drums", "--tracks",
             "chords,bass,melody,drums", "--channels", "melody=4,chords=5,bass=6", "--bars", "4", "--seed", "2",
             "--out", str(out))
    assert r.exit_code == 0, r.output
    rows = {name: (ch, progs) for name, ch, progs, _ in _tracks(out)}
    assert rows["melody"] == ({3}, {110}) and rows["chords"] == ({4}, {24}) and rows["bass"] == ({5}, {42})
    assert rows["drums"][0] == {9}
    out2 = tmp_path / "m.mid"
    r = _run("a waltz", "--tracks", "melody,bass", "--bars", "4", "--out", str(out2))
    assert r.exit_code == 0 and {name for name, *_ in _tracks(out2)} == {"melody", "bass"}


def _user_file(path, type0=False):
    """A quiet violin phrase on channel 5 (velocities 33-51), 384 ticks per quarter, in 3/4."""
    mid = mido.MidiFile(type=0 if type0 else 1, ticks_per_beat=384)
    head = [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(84)),
            mido.MetaMessage("time_signature", numerator=3, denominator=4)]
    tr = [mido.MetaMessage("track_name", name="my tune"), mido.Message("program_change", channel=4, program=40)]
    pitches = [62, 65, 69, 67, 65, 64, 62, 64, 65, 69, 72, 70]
    vels = [33, 40, 51, 45, 38, 36, 41, 50, 33, 47, 51, 44]
    for p, v in zip(pitches, vels):
        tr += [mido.Message("note_on", channel=4, note=p, velocity=v, time=0),
               mido.Message("note_off", channel=4, note=p, velocity=0, time=288)]
    if type0:
        mid.tracks.append(mido.MidiTrack(head + tr))
    else:
        mid.tracks += [mido.MidiTrack(head), mido.MidiTrack(tr)]
    mid.save(str(path))


def _notes(path):
    mid = mido.MidiFile(str(path))
    out = []
    for tr in mid.tracks:
        t, prog = 0, {}
        for m in tr:
            t += m.time
            if m.type == "program_change":
                prog[m.channel] = m.program
            elif m.type == "note_on" and m.velocity:
                out.append((t / mid.ticks_per_beat, m.note, m.velocity, m.channel, prog.get(m.channel)))
    return out


@shipped
@pytest.mark.parametrize("mode", ["--continue", "--harmonize"])
@pytest.mark.parametrize("type0", [False, True])
def test_continue_and_harmonize_keep_every_user_note(tmp_path, mode, type0):
    src, out = tmp_path / "user.mid", tmp_path / "out.mid"
    _user_file(src, type0)
    r = _run("for harp and cello", mode, str(src), "--bars", "4", "--seed", "3", "--out", str(out))
    assert r.exit_code == 0, r.output
    user, result = _notes(src), _notes(out)
    assert len(user) == 12
    # Every note of the phrase is in the output exactly: time, pitch, velocity, channel, program.
    assert set(user) <= set(result)
    added = [n for n in result if n not in set(user)]
    assert added and all(n[3] != 4 or n[4] == 40 for n in added)
    if mode == "--harmonize":
        assert not [n for n in added if n[3] == 4]  # no second melody
        assert {n[4] for n in added} == {46, 42}  # harp chords, cello bass
    else:
        cont = [n for n in added if n[3] == 4]  # the continuation: same channel and violin, after the phrase
        assert cont and min(n[0] for n in cont) >= 9.0  # 12 dotted eighths = 3 bars of 3/4
    assert mido.MidiFile(str(out)).ticks_per_beat == 384


# ---------------------------------------------------------------- the repetition guard


def test_repetition_bias_penalises_runs_and_trills_only_on_pitch_tokens():
    b = repetition_bias([(0, 64), (4, 64), (8, 64)])
    t64 = V.pitch_token(64)
    assert b[t64] < -3.0 and np.count_nonzero(b[: V.PITCH0]) == 0 and np.count_nonzero(b[V.DUR0:]) == 0
    trill = repetition_bias([(0, 64), (2, 65), (4, 64), (6, 65), (8, 64)])
    assert trill[V.pitch_token(65)] < -1.5
    fresh = repetition_bias([(0, 60), (4, 62), (8, 64)])
    assert fresh.min() > -0.5  # a scale run is not penalised much
    assert not repetition_bias([]).any()


class _StuckStepper:
    """A melody 'model' that always wants pitch 64 and four notes per bar: today's temperature-0 failure."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.n = 0

    def feed(self, tokens):
        logits = np.zeros(V.VOCAB_SIZE)
        logits[V.PITCH0:V.DUR0] = -5.0
        logits[V.pitch_token(64)] = 5.0
        logits[V.pitch_token(67)] = 1.0
        logits[V.DUR0 + V.DURATIONS.index(4)] = 3.0
        for i in range(V.N_POSITIONS):
            logits[V.POS0 + i] = 2.0 if i % 4 == 0 else -2.0
        last = tokens[-1]
        if V.DUR0 <= last < V.VOCAB_SIZE:
            self.n += 1
        logits[V.EOB] = 4.0 if self.n and self.n % 4 == 0 and V.DUR0 <= last else -4.0
        return logits


def test_temperature_zero_melody_moves_and_keeps_the_grammar():
    c = Controls(meter="4/4", temperature=0.0)
    bars = [BarEvents((V.chord_token(0, 0),) * 4) for _ in range(16)]
    stuck = generate_melody(_StuckStepper(), c, np.random.default_rng(0), bars, b=Biases(repetition=0.0))
    pitches = [p for bar in stuck for _, p, _ in bar.notes]
    assert set(pitches) == {64}  # the failure, reproduced without the guard
    out = generate_melody(_StuckStepper(), c, np.random.default_rng(0), bars)
    pitches = [p for bar in out for _, p, _ in bar.notes]
    runs = max(len(r) for r in np.split(pitches, np.nonzero(np.diff(pitches))[0] + 1))
    assert len(set(pitches)) >= 2 and runs <= 3  # human tunes: longest run 3 on average
    for bar in out:  # grammar: increasing onsets inside the bar, valid durations
        pos = [p for p, _, _ in bar.notes]
        assert pos == sorted(set(pos)) and all(0 <= p < 16 for p in pos)
        assert all(d in V.DURATIONS for _, _, d in bar.notes)


@shipped
def test_shipped_model_at_temperature_zero_is_not_one_pitch(tmp_path):
    out = tmp_path / "t0.mid"
    r = _run("a tune in C major", "--temperature", "0", "--bars", "16", "--seed", "0", "--tracks", "melody",
             "--out", str(out))
    assert r.exit_code == 0, r.output
    pitches = [n[1] for n in sorted(_notes(out))]
    runs = max(len(r) for r in np.split(pitches, np.nonzero(np.diff(pitches))[0] + 1))
    assert len(set(pitches)) >= 4 and runs <= 3
