"""Tempo words, meters, instruments, texture, register and dynamics on small hand-made pieces."""

import pytest
from analysis_music import corpus_score_piece, make_piece, melody

from bridge.analysis import analyze_piece, classify_texture, instrument_infos, tempo_range, tempo_word
from bridge.analysis.descriptors import dynamics_word, register_word
from bridge.analysis.meter import bar_count, beat_quarters, main_time_signature, subdivided_bar_grid
from bridge.analysis.tempo import main_tempo
from bridge.music import NoteList, Piece, TempoChange, TimeSignature, load_midi


@pytest.mark.parametrize(
    "bpm,word",
    [(40, "Largo"), (59.9, "Largo"), (63, "Larghetto"), (70, "Adagio"), (96, "Andante"), (110, "Moderato"),
     (116, "Allegretto"), (120, "Allegro"), (140, "Allegro"), (160, "Vivace"), (180, "Presto"), (240, "Presto")],
)  # fmt: skip
def test_tempo_words(bpm, word):
    assert tempo_word(bpm) == word
    low, high = tempo_range(word)
    assert low <= bpm < high


def test_tempo_range_rejects_unknown_words():
    with pytest.raises(ValueError, match="Andante"):
        tempo_range("Schnell")


def test_main_tempo_is_the_longest_held():
    notes = NoteList.from_tuples(melody([60] * 16))
    piece = Piece(notes=notes, tempos=(TempoChange(0.0, 60.0), TempoChange(2.0, 132.0), TempoChange(14.0, 70.0)))
    assert main_tempo(piece) == 132.0
    assert analyze_piece(piece).tempo_word == "Allegro"


@pytest.mark.parametrize(
    "meter,beat", [((4, 4), 1.0), ((3, 4), 1.0), ((2, 2), 2.0), ((6, 8), 1.5), ((9, 8), 1.5), ((7, 8), 0.5)]
)
def test_beats_of_simple_and_compound_meters(meter, beat):
    assert beat_quarters(TimeSignature(0.0, *meter)) == beat


def test_bars_seconds_and_meter_of_a_waltz():
    # 8 bars of 3/4 at 90 BPM: 24 quarters = 16 seconds.
    piece = make_piece(melody([67, 64, 64] * 8), bpm=90, meter=(3, 4))
    a = analyze_piece(piece)
    assert a.time_signature == "3/4"
    assert a.bars == pytest.approx(8.0)
    assert a.seconds == pytest.approx(16.0)
    assert a.note_density == pytest.approx(24 / 16.0)


def test_main_time_signature_after_a_meter_change():
    notes = NoteList.from_tuples(melody([60] * 30))
    piece = Piece(notes=notes, time_signatures=(TimeSignature(0.0, 2, 4), TimeSignature(2.0, 6, 8)))
    assert str(main_time_signature(piece)) == "6/8"
    assert bar_count(piece) == pytest.approx(1 + 28 / 3)


def test_chord_grid_follows_the_meter():
    piece = make_piece(melody([60] * 12), meter=(6, 8))
    assert list(subdivided_bar_grid(piece, "beat")) == [0, 1.5, 3, 4.5, 6, 7.5, 9, 10.5, 12]
    assert list(subdivided_bar_grid(piece, "bar")) == [0, 3, 6, 9, 12]


def test_instruments_by_gm_program_and_drums_on_channel_10():
    strings = NoteList.from_tuples(melody([60, 62, 64]), program=40)
    bass = NoteList.from_tuples(melody([36, 38]), program=33)
    # A drum track keeps whatever program the file gave it; it is still drums.
    drums = NoteList.from_tuples(melody([36, 38, 42, 42]), program=25, is_drum=True)
    infos = instrument_infos(strings.concat(bass).concat(drums))
    assert [(i.name, i.family, i.is_drum, i.note_count) for i in infos] == [
        ("Drums", "drums", True, 4),
        ("Violin", "strings", False, 3),
        ("Electric Bass (finger)", "bass", False, 2),
    ]


def test_chorale_descriptors(chorale_path):
    a = analyze_piece(load_midi(chorale_path))
    assert a.texture == "homophonic"
    assert a.register == "mid"
    assert {i.family for i in a.instruments} == {"reed", "ensemble", "bass"}
    assert a.time_signature == "4/4"


def test_monophonic_melody():
    assert classify_texture(make_piece(melody([60, 62, 64, 65, 67])).notes) == "monophonic"
    # Slightly overlapping legato notes are still one line.
    legato = [(i * 1.0, 1.05, p) for i, p in enumerate([60, 62, 64, 65, 67])]
    assert classify_texture(make_piece(legato).notes) == "monophonic"


def test_melody_over_block_chords_is_homophonic():
    tune = melody([72, 74, 76, 77, 79, 77, 76, 74], step=0.5)
    chords = [(b, 1.0, p) for b in range(4) for p in (48, 55, 64)]
    assert classify_texture(make_piece(tune + chords).notes) == "homophonic"


def test_independent_lines_are_polyphonic():
    # A running sixteenth line against a slow line that moves off the beat, like a two-part invention.
    upper = melody([72, 74, 76, 77, 79, 77, 76, 74] * 4, step=0.25)
    lower = [(0.75 + 1.5 * i, 1.5, p) for i, p in enumerate([48, 50, 52, 53, 55])]
    assert classify_texture(make_piece(upper + lower).notes) == "polyphonic"


@pytest.mark.parametrize(
    "name,texture",
    [
        ("palestrina/Agnus_01", "polyphonic"),  # imitative mass movement: independent lines
        ("bach/bwv846", "homophonic"),  # C major prelude: broken chords, no stepwise lines
    ],
)
def test_texture_of_real_music(name, texture):
    pytest.importorskip("music21")
    assert classify_texture(corpus_score_piece(name).notes) == texture


@pytest.mark.parametrize(
    "pitch,word", [(40, "low"), (51.9, "low"), (60, "mid"), (71.9, "mid"), (72, "high"), (84, "high")]
)
def test_register_words(pitch, word):
    assert register_word(pitch) == word


def test_register_of_pieces():
    assert analyze_piece(make_piece(melody([36, 38, 40, 41]))).register == "low"
    assert analyze_piece(make_piece(melody([84, 86, 88, 89]))).register == "high"
    a = analyze_piece(make_piece(melody([55, 60, 79])))
    assert (a.pitch_low, a.pitch_high) == (55, 79)


@pytest.mark.parametrize(
    "velocity,word", [(20, "pp"), (45, "p"), (64, "mp"), (80, "mf"), (96, "f"), (112, "ff"), (127, "ff")]
)
def test_dynamics_words(velocity, word):
    assert dynamics_word(velocity) == word
    a = analyze_piece(make_piece(melody([60, 62, 64], velocity=velocity)))
    assert (a.mean_velocity, a.dynamics) == (velocity, word)
