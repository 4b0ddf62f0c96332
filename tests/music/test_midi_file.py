import numpy as np
import pytest

from bridge.music import MidiFileError, NoteList, Piece, TimeSignature, load_midi, save_midi
from bridge.music.midi_file import Limits, load_midi_bytes


def test_round_trip(tmp_path):
    piece = Piece(NoteList.from_tuples([(0, 1, 60), (1, 0.5, 64, 100), (3, 1, 67)]),
                  time_signatures=(TimeSignature(0, 3, 4),))
    save_midi(piece, tmp_path / "a.mid")
    back = load_midi(tmp_path / "a.mid")
    assert back.notes.pitch.tolist() == [60, 64, 67]
    assert np.allclose(back.notes.start, [0, 1, 3])
    assert back.time_signatures[0].numerator == 3
    assert back.bar_starts().tolist() == [0, 3]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"RIFFxxxx", "RIFF"),
        (b"hello world, not midi", "no MThd"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x00\x90", "corrupt"),
    ],
)
def test_bad_bytes_give_one_line_reasons(data, reason):
    with pytest.raises(MidiFileError) as err:
        load_midi_bytes(data)
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_no_notes_and_caps(tmp_path):
    import symusic

    score = symusic.Score(480)
    score.tracks.append(symusic.Track())
    with pytest.raises(MidiFileError, match="no notes|no tracks"):
        load_midi_bytes(score.dumps_midi())
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 5000.0))
    track = symusic.Track()
    for i in range(300):
        track.notes.append(symusic.Note(i * 10, 10, 60, 80))
    score.tracks.append(track)
    piece = load_midi_bytes(score.dumps_midi(), Limits(max_notes=100))
    assert len(piece.notes) == 100
    assert any("capped" in w for w in piece.warnings)
    assert any("tempo" in w for w in piece.warnings)
    assert piece.tempos[0].bpm == 400


def test_window_shifts_and_cuts():
    piece = Piece(NoteList.from_tuples([(0, 1, 60), (4, 8, 62), (8, 1, 64)]))
    w = piece.window(4, 8)
    assert w.notes.start.tolist() == [0]
    assert w.notes.duration.tolist() == [4]
