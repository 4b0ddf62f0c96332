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
@click.option("--continue", "continue_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Continue the melody of this MIDI file.")
@click.option("--harmonize", "harmonize_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Write chords under the melody of this MIDI file.")
@click.option("--key-retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Re-sample (next seeds) while the key analysis hears another key than asked.")
@models_option
@json_option
def generate(prompt, out, bars, seed, temperature, top_p, key_text, meter, tempo, continue_path, harmonize_path,
             key_retries, model_dir, as_json):
    """Generate a piece (chords + melody tracks) from a text prompt, e.g.

    midibridge generate "a slow melancholic waltz in D minor" --bars 16 --out waltz.mid --seed 1
    """
    from bridge.analysis.key import estimate_key
    from bridge.generation.encoding import song_from_piece, song_to_piece
    from bridge.generation.generate import continue_song, generate_song_in_key, harmonize_song
    from bridge.generation.prompt import parse_prompt
    from bridge.generation.runtime import GenerationModels, ModelNotFound
    from bridge.music import save_midi

    if continue_path and harmonize_path:
        raise click.UsageError("use either --continue or --harmonize, not both")
    c = parse_prompt(prompt)
    key_given = c.key_given or key_text is not None
    c = _match_unknown_words(c.with_(key_given=key_given), meter_given=meter is not None, tempo_given=tempo is not None)
    if key_text:
        kc = parse_prompt(f"in {key_text}" if not key_text.lower().startswith("in ") else key_text)
        c = c.with_(tonic_pc=kc.tonic_pc, mode=kc.mode)
    c = c.with_(meter=meter, tempo_bpm=tempo, seed=seed, temperature=temperature, top_p=top_p)
    try:
        models = GenerationModels.load(model_dir)
    except ModelNotFound as e:
        raise click.ClickException(str(e)) from e
    source = continue_path or harmonize_path
    attempts = 1
    if source:
        piece = load_midi_or_fail(source)
        if not len(piece.notes.pitched()):
            raise click.ClickException(f"{source}: no pitched notes")
        if not key_given:
            est = estimate_key(piece.notes)
            c = c.with_(tonic_pc=est.tonic_pc, mode=est.mode)
        given = song_from_piece(piece, c.tonic_pc, c.mode, meter)
        c = c.with_(meter=given.meter, tempo_bpm=round(given.tempo_bpm, 2), bars=bars or 8)
        if continue_path:
            song = continue_song(models, given, c)
        else:
            song = harmonize_song(models, given, c)
    else:
        c = c.with_(bars=bars)
        song, attempts = generate_song_in_key(models, c, key_retries)
    piece = song_to_piece(song)
    save_midi(piece, out)
    heard = estimate_key(piece.notes)
    info = {"out": str(out), "controls": c.to_dict(), "bars": len(song.bars), "meter": song.meter,
            "tempo_bpm": round(song.tempo_bpm, 2), "key_heard": heard.name, "notes": len(piece.notes),
            "attempts": attempts}
    if as_json:
        emit_json(info)
    else:
        extra = f"; unmatched words: {', '.join(c.unmatched)}" if c.unmatched else ""
        click.echo(f"wrote {out}: {len(song.bars)} bars of {song.meter} at {song.tempo_bpm:.0f} BPM in "
                   f"{c.key_name} (heard as {heard.name}){extra}")


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
@click.option("--ablation", "ablation_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=None, help="Directory of backbone_{hrpe,rope}_s<seed> runs to compare.")
@json_option
def eval_generation(data, backbone_ckpt, melody_ckpt, model_dir, samples, bars, prompts, ablation_dir, as_json):
    """Held-out NLL, musical metrics beside human pieces, key adherence and the H-RPE ablation."""
    report: dict = {}
    if prompts:
        from bridge.generation.metrics import key_adherence
        from bridge.generation.runtime import GenerationModels, ModelNotFound

        try:
            models = GenerationModels.load(model_dir)
        except ModelNotFound as e:
            raise click.ClickException(str(e)) from e
        report["prompts"] = key_adherence(models, prompts)
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
        raise click.UsageError("nothing to evaluate: give --prompts N, checkpoints with --data, or --ablation")
    emit_json(report) if as_json else click.echo(json.dumps(report, indent=2))


@export_group.command("generation")
@click.option("--backbone", "backbone_ckpt", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--melody", "melody_ckpt", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@json_option
def export_generation(backbone_ckpt, melody_ckpt, out, as_json):
    """Export both models to ONNX (explicit caches) and check logit parity with torch (1e-3)."""
    require_train_extra()
    from export.generation import export_all

    reports = export_all(backbone_ckpt, melody_ckpt, out)
    emit_json(reports) if as_json else click.echo(json.dumps(reports, indent=2))
    bad = [r for r in reports if not r["ok"]]
    if bad:
        raise click.ClickException(f"parity check failed: {bad}")


COMMANDS = (generate,)


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
