"""Retrieval encoder latency: one text query (p50/p99, tokenisation included) for torch eager, ONNX fp32,
ONNX fp16-stored weights and ONNX int8 in the same run, and MIDI clip encode throughput (clips/s).

    .venv/bin/python bench/encode.py                      # a fresh clone: the shipped ONNX towers only
    .venv/bin/python bench/encode.py --checkpoint runs/retrieval/best --onnx runs/retrieval/export [--data corpus]

--checkpoint (alias --model) is a training checkpoint dir (model.pt) for the torch eager column; the repository
ships no checkpoint, so without it that column is skipped with one line saying why. --onnx is an export dir
holding text_encoder.onnx, .fp16.onnx and .int8.onnx (and the MIDI towers); default: the shipped model
(bridge/assets/models/retrieval, which holds the shipped precision only). Rows whose files are missing are
skipped with a note; the precision the export chose to ship is marked "(shipped)". Prints the machine, its load
and the command line first; --json prints the report as JSON instead of tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no spinning on a shared machine
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from run_info import announce  # noqa: E402  (bench/ is on sys.path when a bench script runs)

QUERIES = [
    "a sad piano melody in A minor",
    "lively Irish jig on the fiddle in D major",
    "slow chorale for choir",
    "Could you play something calm for string quartet? G major, 3/4.",
    "fast reel, tin whistle, E dorian",
    "a solemn Renaissance motet with interweaving voices",
    "waltz in F major at 90 BPM",
    "a gentle lullaby",
]


PRECISION_FILES = (("fp32", ".onnx"), ("fp16", ".fp16.onnx"), ("int8", ".int8.onnx"))


def shipped_precisions(onnx_dir: Path) -> dict:
    """{"text": "fp16", ...} from the export's runtime configs; empty when they are missing."""
    out = {}
    for tower in ("text", "midi"):
        cfg = onnx_dir / f"{tower}_encoder.json"
        if cfg.is_file():
            out[tower] = json.loads(cfg.read_text()).get("precision", "")
    return out


def percentiles(fn, n: int, warmup: int = 5) -> dict:
    for i in range(warmup):
        fn(QUERIES[i % len(QUERIES)])
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(QUERIES[i % len(QUERIES)])
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p99_ms": round(float(np.percentile(times, 99)), 2)}


def onnx_text(onnx_dir: Path, file: str, threads: int):
    from bridge.inference.retrieval import load_text_tokenizer, make_session, tokenize_texts

    session = make_session(onnx_dir / file, ["CPUExecutionProvider"], threads)
    tok = load_text_tokenizer(onnx_dir / "tokenizer.json")

    def encode(text: str) -> np.ndarray:
        ids, mask = tokenize_texts(tok, [text])
        return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    return encode


def clip_ids(data: Path | None, window, n: int) -> list[np.ndarray]:
    from bridge.music import load_midi
    from bridge.paths import examples_dir
    from bridge.tokens import key_class, tokenize_piece

    if data is not None:
        from models.retrieval.data import TokenCache, read_clips, usable

        clips = read_clips(data, ("test",))[:n]
        cache = TokenCache(data, window.tokenizer)
        cache.ensure([c.location for c in clips])
        return [window.of_ids(cache.get(c.location), cache.key(c.location)) for c in usable(clips, cache)]
    piece = load_midi(examples_dir() / "chorale.mid")
    ids, key = tokenize_piece(piece, window.tokenizer), key_class(piece)
    return [window.of_ids(ids[(7 * i) % max(1, len(ids) - window.max_len) :], key) for i in range(n)]


def throughput(encode, seqs: list[np.ndarray], repeats: int = 2) -> float:
    encode(seqs[:8])
    t = time.perf_counter()
    for _ in range(repeats):
        encode(seqs)
    return round(repeats * len(seqs) / (time.perf_counter() - t), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", "--model", dest="model", type=Path, default=None,
                        help="training checkpoint dir (model.pt) for the torch eager baseline; none is shipped")
    parser.add_argument("--onnx", type=Path, default=None, help="export dir (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=None, help="corpus: time real test clips")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()


    import onnxruntime as ort

    from bridge.inference.retrieval import default_model_dir, make_session
    from bridge.tokens import MidiWindow, load_tokenizer, pad_batch

    if args.onnx is None:
        args.onnx = default_model_dir()
    report: dict = {
        **announce(),
        "onnx_dir": str(args.onnx),
        "threads": args.threads, "text_query": {}, "midi_clips_per_s": {}, "notes": [],
    }  # fmt: skip
    rows = [(f"onnx {p}", f"text_encoder{suffix}") for p, suffix in PRECISION_FILES]
    if args.model is None:
        report["notes"].append(
            "torch eager skipped: no --checkpoint DIR given (the repository ships the ONNX towers, not a torch"
            " checkpoint; pass a training run's checkpoint dir to time it)"
        )
        enc = None
    elif (args.model / "model.pt").is_file():
        import torch

        from models.retrieval.torch_encoders import TorchRetrievalEncoders

        torch.set_num_threads(args.threads)
        enc = TorchRetrievalEncoders(args.model)
        report["text_query"]["torch eager"] = percentiles(lambda q: enc.encode_text([q]), args.queries)
    else:
        report["notes"].append(f"no checkpoint at {args.model}: torch eager skipped")
        enc = None
    for label, file in rows:
        if (args.onnx / file).is_file():
            report["text_query"][label] = percentiles(onnx_text(args.onnx, file, args.threads), args.queries)
        else:
            report["notes"].append(f"no {file} in {args.onnx}: {label} skipped")

    if not (args.onnx / "midi_tokenizer.json").is_file() and args.model is None:
        raise SystemExit(f"no midi_tokenizer.json in {args.onnx} and no --checkpoint: no MIDI tower to time")
    tokenizer = load_tokenizer(args.onnx if (args.onnx / "midi_tokenizer.json").is_file() else args.model)
    midi_cfg = (
        json.loads((args.onnx / "midi_encoder.json").read_text())
        if (args.onnx / "midi_encoder.json").is_file()
        else {"max_len": 256}
    )
    max_len = midi_cfg["max_len"]
    seqs = clip_ids(args.data, MidiWindow(tokenizer, max_len, midi_cfg.get("header", False)), args.clips)
    report["midi_clips"] = {"n": len(seqs), "mean_tokens": round(float(np.mean([len(s) for s in seqs])), 1)}
    if enc is not None:
        report["midi_clips_per_s"]["torch eager"] = throughput(lambda s: enc.encode_token_ids(s), seqs)
    for label, file in [(f"onnx {p}", f"midi_encoder{suffix}") for p, suffix in PRECISION_FILES]:
        if not (args.onnx / file).is_file():
            report["notes"].append(f"no {file} in {args.onnx}: MIDI {label} skipped")
            continue
        session = make_session(args.onnx / file, ["CPUExecutionProvider"], args.threads)

        def encode(batch_seqs, session=session):
            for lo in range(0, len(batch_seqs), 32):
                session.run(None, {"ids": pad_batch(batch_seqs[lo : lo + 32], max_len)})

        report["midi_clips_per_s"][label] = throughput(encode, seqs)
    report["onnxruntime"] = ort.__version__
    report["shipped"] = shipped_precisions(args.onnx)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"single text query, tokenisation included, {args.threads} threads:")
    print("| | p50 ms | p99 ms |\n|---|---|---|")
    mark = {f"onnx {p}": " (shipped)" for p in report["shipped"].get("text", "").split()}
    for label, r in report["text_query"].items():
        print(f"| {label}{mark.get(label, '')} | {r['p50_ms']} | {r['p99_ms']} |")
    print(
        f"\nMIDI clip encode ({report['midi_clips']['n']} clips, mean {report['midi_clips']['mean_tokens']} tokens,"
        " batch 32):"
    )
    mark = {f"onnx {p}": " (shipped)" for p in report["shipped"].get("midi", "").split()}
    for label, v in report["midi_clips_per_s"].items():
        print(f"  {label}{mark.get(label, '')}: {v} clips/s")
    for note in report["notes"]:
        print("note:", note)


if __name__ == "__main__":
    main()
