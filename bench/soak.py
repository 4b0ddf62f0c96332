"""Soak: an endless generated stream for a long time; drift against the clock, RSS growth, late bars.

    .venv-dev/bin/python bench/soak.py                  # 30 minutes at 120 BPM
    .venv-dev/bin/python bench/soak.py --minutes 2 --bpm 300 --json soak.json

A JACK dummy server, `midibridge serve --no-library`, and a JACK recorder on midibridge:out. One endless
/midibridge/generate/start; every --every seconds the daemon's status (RSS of daemon and workers, bars, late and
held bars, late events, xruns) is sampled. At the end: drift = how far the last bar's onsets lie from the
sixteenth grid counted from the stream's first note (frames and ms: the stream keeps the clock's time only if
this stays at 0), RSS growth from the first sample after a minute of warm-up (the backbone's context
window has filled by then) to the last, late/held bars, context rebuilds.
`soak()` is also what the CI soak test runs, for two minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "daemon"))

from daemon_harness import JackServer, OscClient, Recorder, notes_from, start_daemon  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402

RATE = 48000


def soak(minutes: float, bpm: float, every: float = 10.0, jack: JackServer | None = None,
         tmp: Path | None = None, warmup: float = 60.0) -> dict:
    own_jack = jack is None
    jack = jack or JackServer(period=256).start()
    tmp = tmp or Path(tempfile.mkdtemp(prefix="mb-soak-"))
    daemon = start_daemon(tmp, jack, "--no-web", "--bpm", str(bpm))
    recorder = Recorder(jack.name, "soakrec")
    recorder.connect_from("midibridge:out")
    client = OscClient(daemon.port)
    samples = []
    try:
        deadline = time.monotonic() + 30
        while client.status().get("jam") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        client.request("/midibridge/generate/start", 1, "a tune in E minor", f"tempo={bpm:g}",
                       reply="/midibridge/generate/start", timeout=30)
        t0 = time.monotonic()
        end = t0 + minutes * 60.0
        while time.monotonic() < end:
            time.sleep(min(every, max(0.0, end - time.monotonic())))
            st = client.status(2)
            samples.append({"t": round(time.monotonic() - t0, 1), "rss_mb": st["rss_mb"],
                            "rss_mb_worker": st["rss_mb_worker"], "bars": st["jam_bars"],
                            "late_bars": st["jam_late_bars"], "held_bars": st["jam_held_bars"],
                            "late": st["late"], "xruns": st["xruns"], "min_lead_ms": st["jam_min_lead_ms"]})
        client.request("/midibridge/generate/stop", 3, reply="/midibridge/generate/stop")
        time.sleep(0.3)
    finally:
        client.close()
        recorder.close()
        daemon.stop()
        if own_jack:
            jack.stop()
    ons = [f for f, d in recorder.events if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0]
    _, sounding = notes_from(recorder.events)
    sixteenth = RATE * 60.0 / bpm / 4
    first = ons[0] if ons else 0
    errors = [min((f - first) % sixteenth, sixteenth - (f - first) % sixteenth) for f in ons]
    tail = errors[-64:]
    base = next((s for s in samples if s["t"] >= warmup), samples[0] if samples else None)
    last = samples[-1] if samples else None
    total = (lambda s: s["rss_mb"] + s["rss_mb_worker"]) if samples else None
    return {
        "minutes": minutes, "bpm": bpm, "notes": len(ons), "bars": last["bars"] if last else 0,
        "late_bars": last["late_bars"] if last else -1, "held_bars": last["held_bars"] if last else -1,
        "late_events": last["late"] if last else -1, "xruns": last["xruns"] if last else -1,
        "min_lead_ms": last["min_lead_ms"] if last else -1,
        "drift_frames_last_bars": max(tail) if tail else 0.0,
        "drift_ms_last_bars": (max(tail) if tail else 0.0) * 1000.0 / RATE,
        "grid_error_frames_max": max(errors) if errors else 0.0,
        "rss_mb_start": round(total(base), 1) if base else 0.0, "rss_mb_end": round(total(last), 1) if last else 0.0,
        "rss_growth": (total(last) - total(base)) / total(base) if base and total(base) else 0.0,
        "left_sounding": len(sounding), "samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    info = announce()
    print(f"argv: {sys.argv}")
    result = soak(args.minutes, args.bpm, args.every)
    for k, v in result.items():
        if k != "samples":
            print(f"{k:26} {v:.4f}" if isinstance(v, float) else f"{k:26} {v}")
    if args.json:
        args.json.write_text(json.dumps({**result, "run": info}, indent=2))


if __name__ == "__main__":
    main()
