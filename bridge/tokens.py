"""The one MIDI tokenisation shared by training and runtime: miditok REMI in a single stream.

Training tokenises corpus clips with `default_tokenizer()` and saves its parameters beside the
model (`midi_tokenizer.json`); the runtime rebuilds the identical tokenizer from that file, so a
model never sees ids from a different vocabulary. miditok and symusic need no torch.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np

from bridge.music import Piece, piece_to_score

log = logging.getLogger(__name__)

TOKENIZER_FILE = "midi_tokenizer.json"
PAD_ID = 0  # miditok puts PAD_None first; the model masks it out of attention and pooling
BAR_TOKEN = "Bar_None"


def tokenizer_config_dict() -> dict:
    """The REMI settings: notes with velocity and duration, chords, tempo, meter and programs in one stream."""
    return dict(
        use_velocities=True,
        num_velocities=16,  # 16 loudness steps are plenty for "soft/loud" captions; keeps the vocab small
        use_chords=True,
        use_tempos=True,
        num_tempos=32,
        tempo_range=(40, 250),
        use_time_signatures=True,
        use_programs=True,
        one_token_stream_for_programs=True,  # one sequence per piece: instruments appear as Program tokens
        use_rests=False,
        use_sustain_pedals=False,
        use_pitch_bends=False,
    )


def _miditok():
    """Import miditok without its optional torch half.

    miditok imports `miditok.pytorch_data` (and so torch, ~1 s and hundreds of MB) whenever torch is
    installed; the runtime never uses it. Masking that one submodule during the import makes miditok skip
    it, and unmasking afterwards lets training code still import it explicitly.
    """
    if "miditok" in sys.modules or "torch" in sys.modules:
        import miditok

        return miditok
    sys.modules["miditok.pytorch_data"] = None  # type: ignore[assignment]  # import of it raises ImportError
    try:
        import miditok
    finally:
        del sys.modules["miditok.pytorch_data"]
    return miditok


def default_tokenizer():
    """A fresh REMI tokenizer with the midibridge settings."""
    miditok = _miditok()  # local: keeps `import bridge.tokens` cheap for commands that never tokenise
    return miditok.REMI(miditok.TokenizerConfig(**tokenizer_config_dict()))


def load_tokenizer(path: str | os.PathLike):
    """Rebuild the tokenizer saved beside a model (a file, or a directory holding `midi_tokenizer.json`)."""
    miditok = _miditok()

    path = Path(path)
    if path.is_dir():
        path = path / TOKENIZER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no MIDI tokenizer config at {path}")
    return miditok.REMI(params=path)


def save_tokenizer(tokenizer, directory: str | os.PathLike) -> Path:
    path = Path(directory) / TOKENIZER_FILE
    tokenizer.save(path)
    return path


def tokenize_piece(piece: Piece, tokenizer=None) -> np.ndarray:
    """REMI ids of a whole piece (int32). An empty piece gives an empty array."""
    tokenizer = tokenizer if tokenizer is not None else _shared_default()
    if len(piece.notes) == 0:
        return np.zeros(0, dtype=np.int32)
    seq = tokenizer.encode(piece_to_score(piece))
    if isinstance(seq, list):  # only with one_token_stream_for_programs=False; kept for foreign configs
        seq = seq[0]
    return np.asarray(seq.ids, dtype=np.int32)


_DEFAULT = None


def _shared_default():
    # Building a REMI vocab takes ~50 ms; callers that pass no tokenizer share one instance.
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_tokenizer()
    return _DEFAULT


def bar_id(tokenizer) -> int:
    return int(tokenizer.vocab[BAR_TOKEN])


def crop_ids(ids: np.ndarray, max_len: int, bar: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A window of at most `max_len` ids starting on a Bar token when the sequence has one.

    With `rng` the window start is random (training augmentation); without it the window is the
    start of the piece (evaluation and runtime are deterministic).
    """
    ids = np.asarray(ids)
    if len(ids) <= max_len:
        return ids
    if rng is None:
        return ids[:max_len]
    last_start = len(ids) - max_len
    bars = np.flatnonzero(ids[: last_start + 1] == bar)
    start = int(rng.choice(bars)) if len(bars) else int(rng.integers(0, last_start + 1))
    return ids[start : start + max_len]


def pad_batch(seqs: list[np.ndarray], max_len: int | None = None) -> np.ndarray:
    """Right-pad id sequences with PAD_ID into an int64 (batch, length) array; empty ones get one PAD."""
    length = max([len(s) for s in seqs] + [1])
    if max_len is not None:
        length = min(length, max_len)
    out = np.full((len(seqs), length), PAD_ID, dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[:length]
        out[i, : len(s)] = s
    return out
