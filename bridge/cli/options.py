"""Option decorators and output helpers shared by every command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")

db_option = click.option(
    "--db",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Library index directory (default: $MIDIBRIDGE_DB or the user data dir).",
)


def emit_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=_json_default)
    sys.stdout.write("\n")


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_midi_or_fail(path):
    """A MIDI file for a command, or a one-line click error naming the file and what is wrong with it."""
    from bridge.music import MidiFileError, load_midi

    try:
        return load_midi(path)
    except MidiFileError as e:
        raise click.ClickException(f"{path}: {e}") from e


def require_train_extra():
    """Import torch for training/export commands, or explain which extra to install."""
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise click.ClickException(
            "this command needs PyTorch: pip install torch==2.13.0 && pip install 'midibridge[train]'"
        ) from e
