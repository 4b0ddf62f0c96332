"""Live generation benchmark: request -> first note, lead of ready bars, real-time factor, CPU share, timing
error at a JACK input; idle and while a second client runs searches back to back.

    .venv-dev/bin/python bench/live.py                       # 8 starts of 4 bars each, idle then loaded
    .venv-dev/bin/python bench/live.py --trials 20 --bars 8 --json live.json

1. Starts a JACK dummy server (48 kHz, period 256, unique name) and `midibridge serve` (bundled library, shipped
   models) as a subprocess; a JACK-Client recorder in this process on midibridge:out stamps every event with
   its frame.
2. Each trial sends /midibridge/generate/start (N bars at 120 BPM) and measures: the OSC round trip of the
   start request; where the first note landed against the promised bar line (frames; the bar line is placed
   from a /midibridge/tempo/get taken right after, so the estimate carries one UDP round trip); how early the
   bars were ready before their bar lines (status jam_min_lead_ms: the least over the trial); late and held
   bars; timing error = every onset's distance from the sixteenth grid counted from the first note (frames:
   0 means sample accurate); generation ms per bar in the worker (p50/p99) and the real-time factor
   (generation time / bar duration); CPU share of the daemon and its workers over the trial (1.0 = one core).
3. Call and response: --calls 2-bar phrases played by a JACK player into midibridge:in on the next bar line; each
   answer's /midibridge/generate/call/answer says how many ms before its bar line it was scheduled (> 0: in time).
4. The same again while bench/latency.py's hammer (another process) sends searches back to back.
Prints p50/p99 and the loaded/idle ratios. Numbers on a shared 2-core machine are measurements, not thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "daemon"))
sys.path.insert(0, str(REPO / "bench"))

from daemon_harness import JackServer, OscClient, Player, Recorder, start_daemon  # noqa: E402

RATE = 48000
BPM = 120.0


def pct(values, q) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 3) if len(values) else float("nan")


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_1min": round(load[0], 2), "python": platform.python_version(), "argv": sys.argv}


def worker_pids(daemon_pid: int) -> list[int]:
    """The daemon and its workers (generation and search): CPU share is over all of them."""
    import psutil

    return [daemon_pid] + [c.pid for c in psutil.Process(daemon_pid).children(recursive=True)]


def cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def on_grid_errors(frames: list[int], sixteenth: float) -> list[float]:
    first = frames[0]
    return [min((f - first) % sixteenth, sixteenth - (f - first) % sixteenth) for f in frames]


def trial(client: OscClient, recorder: Recorder, bars: int, request_id: int, pids: list[int]) -> dict:
    from bridge.midi.queue import unwrap32

    recorder.events.clear()
    cpu0, wall0 = cpu_seconds(pids), time.monotonic()
    t0 = time.perf_counter()
    reply = client.request("/midibridge/generate/start", request_id, "a tune in D minor", f"bars={bars}",
                           f"tempo={BPM:g}", reply="/midibridge/generate/start", timeout=30)[-1].params
    start_ms = (time.perf_counter() - t0) * 1000.0
    start_beat = reply[1]
    frame_now = unwrap32(recorder.client.frame_time, recorder._t0)
    tempo = client.request("/midibridge/tempo/get", request_id + 1)[-1].params
    promised = frame_now + (start_beat - tempo[3]) * RATE * 60.0 / BPM
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = client.status(request_id + 2)
        if st.get("jam") == "finished":
            break
        time.sleep(0.25)
    time.sleep(0.2)
    wall = time.monotonic() - wall0
    cpu = cpu_seconds(pids) - cpu0
    ons = [f for f, d in recorder.events if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0]
    sixteenth = RATE * 60.0 / BPM / 4
    bar_ms = 4 * 60000.0 / BPM
    return {"start_ms": start_ms, "first_note_error_frames": (ons[0] - promised) if ons else float("nan"),
            "grid_error_frames": on_grid_errors(ons, sixteenth) if ons else [],
            "min_lead_ms": st.get("jam_min_lead_ms", -1.0), "late_bars": st.get("jam_late_bars", -1),
            "held_bars": st.get("jam_held_bars", -1), "bar_ms_p50": st.get("jam_bar_ms_p50", -1.0),
            "bar_ms_p99": st.get("jam_bar_ms_p99", -1.0), "rtf": st.get("jam_bar_ms_p99", 0.0) / bar_ms,
            "cpu_share": cpu / max(wall, 1e-9), "late_events": st.get("late", -1), "xruns": st.get("xruns", -1),
            "notes": len(ons)}


def call_trial(client: OscClient, player, request_id: int) -> float:
    """One 2-bar call played on the next bar line; returns how many ms before its bar line the answer was ready."""
    client.request("/midibridge/generate/call/start", request_id, "respond", 2, reply="/midibridge/generate/call/start")
    beat_now = client.request("/midibridge/tempo/get", request_id + 1)[-1].params[3]
    start = (int(beat_now // 4) + 1) * 4
    lead = (start - beat_now) * 60.0 / BPM
    phrase = [62, 65, 69, 74, 72, 69, 65, 64, 62, 65, 69, 73, 74, 69, 65, 62]
    events = []
    for i, p in enumerate(phrase):
        t = lead - 0.05 + i * 60.0 / BPM / 2
        events += [(t, bytes([0x90, p, 80])), (t + 0.2, bytes([0x80, p, 0]))]
    player.play(events, lead=0.05)
    answer = client.until("/midibridge/generate/call/answer", request_id, timeout=30)[-1].params
    client.request("/midibridge/generate/call/stop", request_id + 2, reply="/midibridge/generate/call/stop")
    time.sleep(2 * 4 * 60.0 / BPM + 0.5)  # let the answer play out
    return float(answer[4])


def summarize(trials: list[dict]) -> dict:
    grid = [e for t in trials for e in t["grid_error_frames"]]
    return {
        "trials": len(trials),
        "start_ms_p50": pct([t["start_ms"] for t in trials], 50),
        "start_ms_p99": pct([t["start_ms"] for t in trials], 99),
        "first_note_error_frames_p50": pct([abs(t["first_note_error_frames"]) for t in trials], 50),
        "first_note_error_frames_max": pct([abs(t["first_note_error_frames"]) for t in trials], 100),
        "min_lead_ms": min(t["min_lead_ms"] for t in trials),
        "late_bars": sum(t["late_bars"] for t in trials),
        "held_bars": sum(t["held_bars"] for t in trials),
        "grid_error_frames_p50": pct(grid, 50), "grid_error_frames_p99": pct(grid, 99),
        "bar_ms_p50": pct([t["bar_ms_p50"] for t in trials], 50),
        "bar_ms_p99": pct([t["bar_ms_p99"] for t in trials], 99),
        "rtf_p99": pct([t["rtf"] for t in trials], 99),
        "cpu_share_p50": pct([t["cpu_share"] for t in trials], 50),
        "late_events": max(t["late_events"] for t in trials), "xruns": max(t["xruns"] for t in trials),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--calls", type=int, default=4, help="call-and-response trials (2-bar calls) per condition")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mb-live-"))
    jack = JackServer(period=256).start()
    daemon = start_daemon(tmp, jack, "--no-web", "--bpm", str(BPM), db=tmp / "db")
    recorder = Recorder(jack.name, "liverec")
    recorder.connect_from("midibridge:out")
    player = Player(jack.name, "liveplayer")
    player.connect_to("midibridge:in")
    client = OscClient(daemon.port)
    results: dict = {"machine": machine()}
    hammer = None
    try:
        deadline = time.monotonic() + 120
        while (client.status().get("library") != "ready" or client.status().get("jam") is None) \
                and time.monotonic() < deadline:
            time.sleep(0.3)
        pids = worker_pids(daemon.proc.pid)
        for label in ("idle", "searching"):
            if label == "searching":
                hammer = subprocess.Popen([sys.executable, str(REPO / "bench" / "latency.py"), "--hammer",
                                           str(daemon.port), "3600"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            trials = [trial(client, recorder, args.bars, 10_000 * (i + 1) + (label == "searching"), pids)
                      for i in range(args.trials)]
            results[label] = summarize(trials)
            ready = [call_trial(client, player, 900_000 + 10 * i + (label == "searching") * 5)
                     for i in range(args.calls)]
            results[label].update({"calls": len(ready), "call_ready_ms_min": round(min(ready), 1) if ready else -1,
                                   "call_ready_ms_p50": pct(ready, 50),
                                   "calls_late": sum(1 for r in ready if r <= 0)})
        if hammer is not None:
            hammer.terminate()
    finally:
        if hammer is not None and hammer.poll() is None:
            hammer.kill()
        client.close()
        player.close()
        recorder.close()
        daemon.stop()
        jack.stop()
    idle, busy = results["idle"], results["searching"]
    print(f"machine: {results['machine']}")
    print(f"{'':32}{'idle':>12}{'searching':>12}{'ratio':>8}")
    for key in idle:
        a, b = idle[key], busy[key]
        ratio = f"{b / a:8.2f}" if isinstance(a, (int, float)) and a not in (0, -1) and a == a else f"{'':>8}"
        print(f"{key:32}{a:12.3f}{b:12.3f}{ratio}" if isinstance(a, float) else f"{key:32}{a:12}{b:12}{ratio}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
