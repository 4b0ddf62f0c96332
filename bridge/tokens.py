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


# ----------------------------------------------------------------------------- clip header
#
# Captions describe a whole clip (its key, meter, tempo and instruments) but the MIDI tower reads a window of
# `max_len` ids, and a window from the middle of a clip holds no TimeSig or Tempo token, only the programs that
# happen to play in it, and no key at all: REMI has no key token, and inferring one from two bars of notes is
# the hardest thing the tower has to learn. So windows of a header model start with a fixed-length header:
#   [key, time signature, tempo, program x HEADER_PROGRAMS]
# The key comes from `bridge.analysis` (the estimate the library shows), as one of 24 extra ids after the miditok
# vocabulary; the others are the clip's first TimeSig / Tempo ids and its most-played Program ids. Missing
# slots are PAD, which the tower masks out. Training and runtime build windows with the one `MidiWindow`.

KEY_CLASSES = 24  # 12 tonics x (major, minor), as bridge.analysis.key estimates them
HEADER_PROGRAMS = 4
HEADER_LEN = 3 + HEADER_PROGRAMS
NO_KEY = -1


def key_class(piece: Piece) -> int:
    """mode * 12 + tonic pitch class of the analysed key (0..23), or NO_KEY for a clip with no pitched notes."""
    from bridge.analysis.key import MODES, estimate_key  # local: keeps `import bridge.tokens` cheap

    if len(piece.notes.pitched()) == 0:
        return NO_KEY
    key = estimate_key(piece.notes)
    return MODES.index(key.mode) * 12 + key.tonic_pc


def model_vocab_size(tokenizer, header: bool) -> int:
    """Embedding rows the MIDI tower needs: the REMI vocabulary, plus the key ids when windows have a header."""
    return len(tokenizer.vocab) + (KEY_CLASSES if header else 0)


class HeaderVocab:
    """Which REMI ids are time signatures, tempos and programs, as boolean lookup tables over the vocabulary."""

    def __init__(self, tokenizer):
        vocab = tokenizer.vocab
        self.key_base = len(vocab)
        self.is_time_sig = np.zeros(len(vocab), dtype=bool)
        self.is_tempo = np.zeros(len(vocab), dtype=bool)
        self.is_program = np.zeros(len(vocab), dtype=bool)
        for token, i in vocab.items():
            kind = token.split("_", 1)[0]
            if kind == "TimeSig":
                self.is_time_sig[i] = True
            elif kind == "Tempo":
                self.is_tempo[i] = True
            elif kind == "Program":
                self.is_program[i] = True


def header_ids(ids: np.ndarray, key: int, vocab: HeaderVocab) -> np.ndarray:
    """The HEADER_LEN ids that summarise a whole clip (see the block comment above); PAD where absent."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.full(HEADER_LEN, PAD_ID, dtype=np.int64)
    if 0 <= key < KEY_CLASSES:
        out[0] = vocab.key_base + key
    ids = ids[(ids >= 0) & (ids < vocab.key_base)]  # REMI ids only: key ids are never in a clip's stream
    time_sigs = ids[vocab.is_time_sig[ids]]
    tempos = ids[vocab.is_tempo[ids]]
    if len(time_sigs):
        out[1] = time_sigs[0]
    if len(tempos):
        out[2] = tempos[0]
    programs, counts = np.unique(ids[vocab.is_program[ids]], return_counts=True)
    if len(programs):
        # The most-played programs (one Program token precedes every note), listed in id order so the same
        # ensemble always gives the same header.
        top = programs[np.argsort(-counts, kind="stable")[:HEADER_PROGRAMS]]
        out[3 : 3 + len(top)] = np.sort(top)
    return out


class MidiWindow:
    """What the MIDI tower reads of a clip: a window of at most `max_len` ids, headed when `header` is set."""

    def __init__(self, tokenizer, max_len: int, header: bool = False):
        if header and max_len <= HEADER_LEN:
            raise ValueError(f"max_len {max_len} leaves no room after the {HEADER_LEN}-id header")
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.header = header
        self.bar = bar_id(tokenizer)
        self._vocab = HeaderVocab(tokenizer) if header else None

    def of_ids(self, ids: np.ndarray, key: int = NO_KEY, rng: np.random.Generator | None = None,
               start_prob: float = 0.0) -> np.ndarray:
        """The window of a clip's REMI ids: the clip's start, or with `rng` a random bar-aligned crop
        (except for a `start_prob` share of calls, which keep the start)."""
        ids = np.asarray(ids)
        body_len = self.max_len - (HEADER_LEN if self.header else 0)
        if rng is not None and rng.random() < start_prob:
            rng = None
        body = crop_ids(ids, body_len, self.bar if rng is not None else -1, rng)
        if not self.header:
            return body
        return np.concatenate([header_ids(ids, key, self._vocab), body.astype(np.int64)])

    def of_piece(self, piece: Piece) -> np.ndarray:
        return self.of_ids(tokenize_piece(piece, self.tokenizer), key_class(piece) if self.header else NO_KEY)
