"""Harmony-aware generation: `generate`, plus `data generation`, `train backbone|melody`, `eval generation`,
`export generation`. `generate` runs on ONNX + numpy only; the others need the `train` extra (torch)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from bridge.cli.groups import data_group, eval_group, export_group, train_group
from bridge.cli.options import emit_json, json_option, load_midi_or_fail, require_train_extra

log = logging.getLogger(__name__)

models_option = click.option("--models", "model_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                             help="Directory with backbone.onnx/melody.onnx (default: the shipped models).")


@click.command("generate")
@click.argument("prompt", required=False, default="")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="MIDI file to write.")
@click.option("--bars", type=click.IntRange(1, 256), default=None,
              help="Bars to generate (default 16; 8 new bars with --continue).")
@click.option("--seed", type=int, default=None, help="Random seed: the same seed and prompt give the same music.")
@click.option("--temperature", type=click.FloatRange(0.0, 3.0), default=0.9, show_default=True)
@click.option("--top-p", type=click.FloatRange(0.05, 1.0), default=0.95, show_default=True)
@click.option("--key", "key_text", default=None, help="Key and mode, e.g. 'D minor' (overrides the prompt).")
@click.option("--meter", type=click.Choice(["2/4", "3/4", "4/4", "2/2", "3/2", "6/8", "9/8", "12/8", "3/8", "6/4"]),
              default=None, help="Meter (overrides the prompt).")
@click.option("--tempo", type=click.FloatRange(20, 300), default=None, help="Tempo in BPM (overrides the prompt).")
@click.option("--instruments", "instruments_text", default=None,
              help="GM instruments, e.g. 'fiddle,guitar' (spread over the tracks) or "
                   "'melody=flute,chords=harp,bass=cello,drums' (names or program numbers 0-127); "
                   "overrides the instruments the prompt names.")
@click.option("--tracks", "tracks_text", default=None,
              help="Tracks to write, a comma list of chords,bass,melody,drums (default: chords,bass,melody; "
                   "drums when the prompt or --instruments asks for them).")
@click.option("--channels", "channels_text", default=None,
              help="MIDI channels 1-16 per track, e.g. 'melody=1,chords=2,bass=3' (drums are always 10).")
@click.option("--texture", "pattern", type=click.Choice(["block", "arpeggio", "broken", "waltz", "oompah", "compound",
                                                         "comping"]),
              default=None, help="Accompaniment pattern (default: from the style words and the meter).")
@click.option("--humanize", type=click.FloatRange(0.0, 1.0), default=None,
              help="Timing and velocity looseness, 0 (on the grid) to 1 (about 15 ms); seeded by --seed.")
@click.option("--continue", "continue_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Continue the melody of this MIDI file (its notes are kept exactly).")
@click.option("--harmonize", "harmonize_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Write an accompaniment under the melody of this MIDI file (kept exactly).")
@click.option("--key-retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Re-sample (next seeds) while the key analysis hears another key than asked.")
@models_option
@json_option
def generate(prompt, out, bars, seed, temperature, top_p, key_text, meter, tempo, instruments_text, tracks_text,
             channels_text, pattern, humanize, continue_path, harmonize_path, key_retries, model_dir, as_json):
    """Generate a piece (melody, chords, bass and optional drums, one track each) from a text prompt, e.g.

    midibridge generate "a slow melancholic waltz in D minor for strings and harp" --bars 16 --out waltz.mid

    With --continue or --harmonize the given file is kept note for note and the new tracks are added beside it.
    """
    from bridge.analysis.key import estimate_key
    from bridge.generation.encoding import song_from_piece
    from bridge.generation.generate import continue_song, generate_song_in_key, harmonize_song
    from bridge.generation.midi_out import MidiWriteError, check_out_path
    from bridge.generation.prompt import PromptError, check_prompt, parse_key_option, parse_prompt
    from bridge.generation.runtime import GenerationModels, ModelNotFound

    if continue_path and harmonize_path:
        raise click.UsageError("use either --continue or --harmonize, not both")
    try:
        check_out_path(out)
    except MidiWriteError as e:
        raise click.BadParameter(str(e).removeprefix(f"--out {out}: "), param_hint="--out") from e
    try:
        check_prompt(prompt)
    except PromptError as e:
        raise click.BadParameter(str(e), param_hint="PROMPT") from e
    key_opt = None
    if key_text is not None:
        try:
            key_opt = parse_key_option(key_text)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--key") from e
    instruments = _parse_instruments_option(instruments_text)
    tracks = _parse_tracks_option(tracks_text)
    channels = _parse_channels_option(channels_text)
    warnings: list[str] = []

    c = parse_prompt(prompt)
    key_given = c.key_given or key_opt is not None
    c = _match_unknown_words(c.with_(key_given=key_given), meter_given=meter is not None, tempo_given=tempo is not None)
    if key_opt is not None:
        c = c.with_(tonic_pc=key_opt[0], mode=key_opt[1] or c.mode)
    c = c.with_(meter=meter, tempo_bpm=tempo, seed=seed, temperature=temperature, top_p=top_p)
    try:
        models = GenerationModels.load(model_dir)
    except ModelNotFound as e:
        raise click.ClickException(str(e)) from e
    source = continue_path or harmonize_path
    attempts = 1
    given = None
    if source:
        piece = load_midi_or_fail(source)
        if not len(piece.notes.pitched()):
            raise click.ClickException(f"{source}: no pitched notes")
        file_meter = str(piece.time_signature_at(0.0))
        from bridge.generation.vocab import METERS

        if meter is None and file_meter not in METERS:
            warnings.append(f"{source.name} is in {file_meter}, which generation does not support: read as 4/4 "
                            f"(give --meter to choose)")
        if not key_given:
            est = estimate_key(piece.notes)
            c = c.with_(tonic_pc=est.tonic_pc, mode=est.mode)
        given = song_from_piece(piece, c.tonic_pc, c.mode, meter)
        c = c.with_(meter=given.meter, tempo_bpm=round(given.tempo_bpm, 2), bars=bars or 8)
        song = continue_song(models, given, c) if continue_path else harmonize_song(models, given, c)
    else:
        c = c.with_(bars=bars)
        song, attempts = generate_song_in_key(models, c, key_retries)
    try:
        style = _texture_style(song.meter, prompt, instruments, tracks, channels, pattern, humanize, seed,
                               harmonize=bool(harmonize_path))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--instruments/--tracks") from e
    try:
        written = _write(song, style, out, continue_path=continue_path, harmonize_path=harmonize_path,
                         given=given, instruments=instruments, channels=channels)
    except MidiWriteError as e:
        raise click.ClickException(str(e)) from e
    warnings += _instruments_missing(prompt, instruments, written)
    from bridge.music import load_midi

    back = load_midi(out)
    heard = estimate_key(back.notes)
    info = {"out": str(out), "controls": c.to_dict(), "bars": len(song.bars), "meter": song.meter,
            "tempo_bpm": round(song.tempo_bpm, 2), "key_heard": heard.name, "notes": len(back.notes),
            "attempts": attempts, "texture": style.pattern, "tracks": written, "warnings": warnings}
    if as_json:
        emit_json(info)
    else:
        extra = f"; unmatched words: {', '.join(c.unmatched)}" if c.unmatched else ""
        click.echo(f"wrote {out}: {len(song.bars)} bars of {song.meter} at {song.tempo_bpm:.0f} BPM in "
                   f"{c.key_name} (heard as {heard.name}), {style.pattern} texture{extra}")
        for t in written:
            click.echo(f"  {t['name']:<10} channel {t['channel']:>2}  {t['instrument']}")
        for w in warnings:
            click.echo(f"warning: {w}", err=True)


ROLE_NAMES = ("chords", "bass", "melody", "drums")


def _parse_instruments_option(text):
    """None, a list of GM programs (128 = drums) in the order given, or {role: program}."""
    if text is None:
        return None
    from bridge.generation.texture import representative_program
    from bridge.query import DRUMS, parse_instrument

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise click.BadParameter("give at least one instrument, e.g. 'fiddle,guitar'", param_hint="--instruments")
    by_role: dict[str, int] = {}
    plain: list[int] = []
    for item in items:
        role, _, name = item.rpartition("=")
        role = role.strip().lower()
        name = name.strip()
        if role and role not in ROLE_NAMES:
            raise click.BadParameter(f"unknown track {role!r} in {item!r}; use {', '.join(ROLE_NAMES)}",
                                     param_hint="--instruments")
        if name.isdigit():
            program = int(name)
            if not 0 <= program <= 127:
                raise click.BadParameter(f"GM program {program} is outside 0-127", param_hint="--instruments")
        elif role == "drums" and name.lower() in ("drums", "kit", "drum kit", ""):
            program = DRUMS
        else:
            try:
                term = parse_instrument(name)
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--instruments") from e
            program = representative_program(term.label, term.programs)
        if role == "drums" and program != DRUMS:
            raise click.BadParameter("the drums track plays the General MIDI drum kit; write 'drums'",
                                     param_hint="--instruments")
        if role and program == DRUMS and role != "drums":
            raise click.BadParameter(f"drums cannot play the {role} track", param_hint="--instruments")
        if role or (program == DRUMS and by_role):
            by_role[role or "drums"] = program
        else:
            plain.append(program)
    if by_role and [p for p in plain if p != DRUMS]:
        raise click.BadParameter("use either names alone ('fiddle,guitar') or track=name pairs, not both",
                                 param_hint="--instruments")
    if by_role and DRUMS in plain:
        by_role["drums"] = DRUMS
    return by_role or plain


def _parse_tracks_option(text):
    if text is None:
        return None
    tracks = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in tracks if t not in ROLE_NAMES]
    if bad:
        raise click.BadParameter(f"unknown track {bad[0]!r}; use some of {','.join(ROLE_NAMES)}",
                                 param_hint="--tracks")
    if not tracks:
        raise click.BadParameter(f"give at least one of {','.join(ROLE_NAMES)}", param_hint="--tracks")
    return tracks


def _parse_channels_option(text):
    """{role: zero-based channel} from 'melody=1,chords=2' (1-based on the command line, like a DAW)."""
    if text is None:
        return {}
    out: dict[str, int] = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        role, sep, num = item.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLE_NAMES:
            raise click.BadParameter(f"{item!r}: write TRACK=CHANNEL with TRACK one of {', '.join(ROLE_NAMES)}",
                                     param_hint="--channels")
        try:
            ch = int(num)
        except ValueError:
            ch = 0
        if not 1 <= ch <= 16:
            raise click.BadParameter(f"{item!r}: channels are 1-16", param_hint="--channels")
        if role == "drums" and ch != 10:
            raise click.BadParameter("drums play on channel 10 in General MIDI", param_hint="--channels")
        if role != "drums" and ch == 10:
            raise click.BadParameter(f"channel 10 is the General MIDI drum channel; give {role} another one",
                                     param_hint="--channels")
        if ch - 1 in out.values():
            raise click.BadParameter(f"channel {ch} is given to two tracks", param_hint="--channels")
        out[role] = ch - 1
    return out


def _texture_style(meter, prompt, instruments, tracks, channels, pattern, humanize, seed, harmonize=False):
    from bridge.generation.texture import style_for

    # With --harmonize the melody is the user's own (kept in the file): only the accompaniment is written.
    return style_for(meter, prompt, instruments=instruments, tracks=tracks, humanize=humanize, seed=seed or 0,
                     channels=channels or None, pattern=pattern, without=("melody",) if harmonize else ())


def _write(song, style, out, continue_path=None, harmonize_path=None, given=None, instruments=None, channels=None):
    """Write the realised song; beside the user's file when continuing or harmonising. Returns the tracks."""
    from dataclasses import replace

    from bridge.analysis.instruments import program_name
    from bridge.generation.encoding import piece_roles, song_to_piece
    from bridge.generation.midi_out import (
        append_tracks,
        assign_channels,
        source_channels,
        source_lead,
        write_piece,
    )

    source = continue_path or harmonize_path
    wanted = dict(style.channels)
    wanted.update(channels or {})
    taken: set[int] = set()
    fixed: dict[str, int] = {}
    if source:
        taken = source_channels(source)
        n_given = len(given.bars) if given is not None else 0
        lead = source_lead(source)
        melody_asked = isinstance(instruments, dict) and "melody" in instruments
        if continue_path and lead is not None and not melody_asked and "melody" not in (channels or {}):
            # The continuation sounds like the phrase it continues: same channel and program.
            style = replace(style, programs=tuple({**dict(style.programs), "melody": lead.program}.items()))
            fixed["melody"] = lead.channel
        # A melody-only phrase is accompanied from its first bar; a phrase with its own accompaniment only
        # gets one under the new bars.
        accompany_from = n_given if continue_path and _has_accompaniment(source, lead) else 0
        piece = song_to_piece(song, style, melody_from=n_given, accompany_from=accompany_from)
    else:
        piece = song_to_piece(song, style)
    roles = piece_roles(piece)
    chans = assign_channels(roles, wanted, taken, fixed)
    if source:
        append_tracks(source, piece, out, chans)
    else:
        write_piece(piece, out, chans)
    rows = []
    for t, (name, ch) in enumerate(zip(piece.track_names, chans)):
        mask = piece.notes.track == t
        if not mask.any():
            continue
        drum = bool(piece.notes.is_drum[mask][0])
        prog = int(piece.notes.program[mask][0])
        rows.append({"name": name, "channel": ch + 1, "program": None if drum else prog,
                     "instrument": "Drums" if drum else program_name(prog), "notes": int(mask.sum())})
    return rows


def _instruments_missing(prompt, instruments, written) -> list[str]:
    """A warning per requested instrument that no written track plays (e.g. --tracks left its role out)."""
    from bridge.analysis.instruments import program_name
    from bridge.generation.texture import prompt_instruments
    from bridge.query import DRUMS

    playing = {DRUMS if t["program"] is None else t["program"] for t in written}
    if instruments is None:
        # The instruments as the texture layer read them ("string quartet" is its line-up, "steel-string
        # guitar" one guitar, not strings and a guitar).
        wanted = [(label, set(progs)) for label, progs in prompt_instruments(prompt)]
    else:
        progs = instruments.values() if isinstance(instruments, dict) else instruments
        wanted = [("drums" if p == DRUMS else program_name(p), {p}) for p in progs]
    return [f"{label} was asked for but no track plays it (see --tracks)" for label, ps in wanted
            if not ps & playing]


def _has_accompaniment(source, lead) -> bool:
    import mido

    mid = mido.MidiFile(str(source))
    groups = {(ti, m.channel) for ti, tr in enumerate(mid.tracks) for m in tr if m.type == "note_on"}
    return len(groups) > 1


@data_group.command("generation")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--cache", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Chorale parse cache (default: OUT/chorales.jsonl); music21 needs ~1 s per chorale.")
@click.option("--folk-per-collection", type=int, default=400, show_default=True)
@click.option("--chorales", "chorale_limit", type=int, default=None, help="Use only the first N chorales.")
@json_option
def data_generation(out, cache, folk_per_collection, chorale_limit, as_json):
    """Build aligned (backbone, melody) pairs from chorales and folk tunes, split by piece."""
    require_train_extra()
    from models.generation.data import build

    manifest = build(out, cache or out / "chorales.jsonl", folk_per_collection, chorale_limit)
    if as_json:
        emit_json(manifest)
    else:
        click.echo(json.dumps(manifest, indent=2))


def _train_options(f):
    f = click.option("--data", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True)(f)
    f = click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)(f)
    f = click.option("--minutes", type=float, default=10.0, show_default=True, help="Wall-clock budget.")(f)
    f = click.option("--max-steps", type=int, default=None)(f)
    f = click.option("--seed", type=int, default=0, show_default=True)(f)
    f = click.option("--d-model", type=int, default=128, show_default=True)(f)
    f = click.option("--layers", type=int, default=3, show_default=True)(f)
    f = click.option("--batch", type=int, default=16, show_default=True)(f)
    f = click.option("--max-len", type=int, default=None, help="Tokens per training sequence.")(f)
    f = click.option("--threads", type=int, default=1, show_default=True)(f)
    f = click.option("--resume", is_flag=True, help="Continue from OUT/ckpt.pt.")(f)
    return json_option(f)


def _run_training(kind, config, data, out, minutes, max_steps, seed, batch, max_len, threads, resume, as_json):
    require_train_extra()
    from models.generation.train import train

    res = train(kind, data, out, minutes, seed, config, batch=batch, max_len=max_len, resume=resume,
                max_steps=max_steps, threads=threads)
    emit_json(res) if as_json else click.echo(json.dumps(res, indent=2))


@train_group.command("backbone")
@_train_options
@click.option("--no-hrpe", is_flag=True, help="RoPE only (the ablation baseline).")
def train_backbone(data, out, minutes, max_steps, seed, d_model, layers, batch, max_len, threads, resume, as_json,
                   no_hrpe):
    """Train the chord/structure backbone (RoPE + H-RPE unless --no-hrpe)."""
    config = {"d_model": d_model, "n_layer": layers, "d_ff": 4 * d_model, "use_hrpe": not no_hrpe}
    _run_training("backbone", config, data, out, minutes, max_steps, seed, batch, max_len, threads, resume, as_json)


@train_group.command("melody")
@_train_options
def train_melody(data, out, minutes, max_steps, seed, d_model, layers, batch, max_len, threads, resume, as_json):
    """Train the Transformer-XL melody model conditioned on the backbone's chords."""
    config = {"d_model": d_model, "n_layer": layers, "d_ff": 4 * d_model}
    _run_training("melody", config, data, out, minutes, max_steps, seed, batch, max_len, threads, resume, as_json)


@eval_group.command("generation")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="`data generation` directory: held-out NLL and human reference metrics.")
@click.option("--backbone", "backbone_ckpt", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--melody", "melody_ckpt", type=click.Path(path_type=Path, exists=True), default=None)
@models_option
@click.option("--samples", type=int, default=0, show_default=True, help="Sampled pieces for the metrics.")
@click.option("--bars", type=int, default=12, show_default=True)
@click.option("--prompts", type=int, default=0, show_default=True,
              help="Key/mode/meter adherence over N prompts that name a key (ONNX runtime).")
@click.option("--control", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Text-control table (TB, TBT, CK, CKD, instruments, meter, length) over N held-out prompts "
                   "in musicians' words, judged on the written MIDI by bridge.analysis (ONNX runtime).")
@click.option("--blind", is_flag=True, help="--control on the 40 prompts written after the parser fixes (never "
                                           "tuned on) instead of the main suite.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed for --prompts and --control.")
@click.option("--ablation", "ablation_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=None, help="Directory of backbone_{hrpe,rope}_s<seed> runs to compare.")
@click.option("--variation", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Harmony/variation table over N prompts beside the human held-out songs of --data, plus "
                   "instrument adherence (ONNX runtime, no torch).")
@json_option
def eval_generation(data, backbone_ckpt, melody_ckpt, model_dir, samples, bars, prompts, control, blind, seed,
                    ablation_dir, variation, as_json):
    """Held-out NLL, musical metrics beside human pieces, key adherence and the H-RPE ablation."""
    report: dict = {}
    if variation:
        from bridge.generation.encoding import song_from_dict
        from bridge.generation.metrics import instrument_adherence, variation_report
        from bridge.generation.runtime import GenerationModels, ModelNotFound

        if data is None or not (data / "songs.jsonl").exists():
            raise click.UsageError("--variation needs --data DIR with songs.jsonl (midibridge data generation)")
        try:
            models = GenerationModels.load(model_dir)
        except ModelNotFound as e:
            raise click.ClickException(str(e)) from e
        rows = [json.loads(line) for line in (data / "songs.jsonl").open()]
        human = [song_from_dict(r["song"]) for r in rows if r.get("split") in ("valid", "test")]
        report["variation"] = variation_report(models, human, variation, max(bars, 16))
        report["instrument_adherence"] = instrument_adherence(human[0]) if human else None
    if prompts:
        from bridge.generation.metrics import key_adherence
        from bridge.generation.runtime import GenerationModels, ModelNotFound

        try:
            models = GenerationModels.load(model_dir)
        except ModelNotFound as e:
            raise click.ClickException(str(e)) from e
        report["prompts"] = key_adherence(models, prompts, seed=seed)
    if control:
        report["control_blind" if blind else "control"] = _control_table(model_dir, control, seed, blind)
    if backbone_ckpt or melody_ckpt or ablation_dir or (samples and data):
        require_train_extra()
        from models.generation import evaluate as ev

        if data is None:
            raise click.UsageError("--data is needed for NLL, metrics and the ablation")
        for name, ck in (("backbone", backbone_ckpt), ("melody", melody_ckpt)):
            if ck:
                report[f"{name}_heldout_nll"] = round(ev.heldout_nll(ck, data), 4)
        if samples and (backbone_ckpt and melody_ckpt or not ablation_dir):
            human = ev.heldout_songs(data)
            if backbone_ckpt and melody_ckpt:
                from models.generation.steppers import TorchModels
                from models.generation.train import load_checkpoint

                models = TorchModels(load_checkpoint(backbone_ckpt)[0], load_checkpoint(melody_ckpt)[0])
            else:
                from bridge.generation.runtime import GenerationModels, ModelNotFound

                try:
                    models = GenerationModels.load(model_dir)
                except ModelNotFound as e:
                    raise click.ClickException(str(e)) from e
            report["metrics"] = ev.sample_metrics(models, human, samples, bars)
        if ablation_dir:
            if not melody_ckpt:
                raise click.UsageError("--ablation needs --melody (the shared melody model)")
            report["ablation"] = ev.ablation(ablation_dir, data, melody_ckpt, n=samples or 16, bars=bars)
    if not report:
        raise click.UsageError("nothing to evaluate: give --prompts N, --control N, --variation N with --data, "
                               "checkpoints with --data, or --ablation")
    emit_json(report) if as_json else click.echo(json.dumps(report, indent=2))


@export_group.command("generation")
@click.option("--backbone", "backbone_ckpt", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--melody", "melody_ckpt", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Output directory (with --kv-from: default the models' own directory).")
@click.option("--kv-from", "kv_from", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Only write melody_kv.onnx (key/value-cache melody graph) for the melody.onnx in this directory, "
                   "from the graph's own weights (no checkpoint needed).")
@json_option
def export_generation(backbone_ckpt, melody_ckpt, out, kv_from, as_json):
    """Export both models to ONNX (explicit caches; melody also as melody_kv.onnx with a key/value cache) and
    check logit parity with torch (1e-3; the key/value graph 1e-4 over 300 steps)."""
    require_train_extra()
    from export.generation import export_all, export_kv_from_onnx

    if kv_from is not None:
        reports = [export_kv_from_onnx(kv_from, out)]
    elif backbone_ckpt is None or melody_ckpt is None or out is None:
        raise click.UsageError("give --backbone, --melody and --out (or --kv-from DIR)")
    else:
        reports = export_all(backbone_ckpt, melody_ckpt, out)
    emit_json(reports) if as_json else click.echo(json.dumps(reports, indent=2))
    bad = [r for r in reports if not r["ok"]]
    if bad:
        raise click.ClickException(f"parity check failed: {bad}")


COMMANDS = (generate,)


def _control_table(model_dir, n: int, seed: int, blind: bool = False) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bridge.generation.control import control_report
    from bridge.generation.runtime import GenerationModels, ModelNotFound

    try:
        models = GenerationModels.load(model_dir)
    except ModelNotFound as e:
        raise click.ClickException(str(e)) from e
    matcher = _word_matcher()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("control prompts", total=n)
        return control_report(models, n, seed=seed, matcher=matcher, blind=blind,
                              progress=lambda done, total: bar.update(task, completed=done))


def _word_matcher():
    """The retrieval text tower's word matcher, or None when no retrieval model is installed."""
    from bridge.generation.word_match import WordMatcher
    from bridge.inference import RetrievalEncoders

    try:
        return WordMatcher(RetrievalEncoders.load())
    except Exception as e:  # no model shipped or installed: the vocabulary alone still works
        logging.getLogger(__name__).info("no retrieval text tower (%s): unknown words stay unmatched", e)
        return None


def _match_unknown_words(c, meter_given: bool, tempo_given: bool):
    """Words the vocabulary does not know go through the retrieval text tower, when one is installed."""
    if not c.unmatched:
        return c
    from bridge.generation.word_match import WordMatcher
    from bridge.inference import RetrievalEncoders

    try:
        encoder = RetrievalEncoders.load()
    except Exception as e:  # no model shipped or installed: the vocabulary alone still works
        logging.getLogger(__name__).info("no retrieval text tower (%s): %s stay unmatched", e, ", ".join(c.unmatched))
        return c
    return WordMatcher(encoder).apply(c, meter_given=meter_given, tempo_given=tempo_given)
