"""`midibridge analyze` on files that are valid enough to parse but broken or unusual (issue 12)."""

import json
import struct

from click.testing import CliRunner

from bridge.cli.main import main

NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"  # one middle C, then end of track


def _track(events: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(events)) + events


def _midi(fmt: int, tracks: list[bytes], division: int = 96) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division) + b"".join(_track(t) for t in tracks)


def _analyze(*args):
    return CliRunner().invoke(main, ["analyze", *map(str, args)])


def test_division_zero_is_one_clear_line(tmp_path):
    bad = tmp_path / "div0.mid"
    bad.write_bytes(_midi(1, [NOTE], division=0))
    for extra in ([], ["--json"]):
        result = _analyze(bad, *extra)
        assert result.exit_code == 1, result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "div0.mid" in lines[0] and "division" in lines[0], result.output


def test_type2_file_is_merged_with_a_warning(tmp_path):
    path = tmp_path / "type2.mid"
    other = b"\x00\x90\x40\x40\x60\x80\x40\x00\x00\xff\x2f\x00"
    path.write_bytes(_midi(2, [NOTE, other]))
    result = _analyze(path, "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.output)["warnings"]
    assert any("type-2" in w and "merged" in w for w in warnings), warnings
    table = _analyze(path, "--no-chords")
    assert table.exit_code == 0 and "type-2" in table.output


def test_a_repeated_absurd_tempo_is_reported_once(tmp_path):
    import symusic

    score = symusic.Score(480)
    for bar in range(6):  # the same 8 BPM tempo event at the start of six sections
        score.tempos.append(symusic.Tempo(bar * 8 * 480, 8.0))
    track = symusic.Track(program=0)
    for i in range(48):
        track.notes.append(symusic.Note(i * 480, 240, 60 + i % 12, 80))
    score.tracks.append(track)
    path = tmp_path / "slow.mid"
    score.dump_midi(str(path))
    result = _analyze(path, "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.output)["warnings"]
    assert len(warnings) == 1 and "absurd tempo 8 BPM" in warnings[0] and "6 times" in warnings[0], warnings
