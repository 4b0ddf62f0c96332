"""Daemon latency benchmark: OSC search round trip, MIDI output timing at a JACK input, cold start, RSS.

    .venv/bin/python bench/latency.py                  # 10k windows, 300 searches, 1000 notes twice
    .venv/bin/python bench/latency.py --json out.json --windows 10000 --searches 500 --notes 2000

1. Starts a JACK dummy server (48 kHz, period 256, unique name) and `midibridge serve` as a subprocess on a
   synthetic library of --windows windows (bench/search.py's synthetic_index; the shipped retrieval model
   when installed, else feature ranking). Cold start = process start until the first /midibridge/ping reply,
   and until /midibridge/status reports the library ready.
2. Search round trip: this process is the OSC client; one /midibridge/search/text at a time, timed from
   send to the /midibridge/search/end reply (p50/p99).
3. MIDI timing: a JACK-Client recorder in this process, connected to midibridge:out, stamps each event with
   its absolute frame. The daemon plays a clip of 32nd notes at 300 BPM (every event on a whole frame:
   600 frames apart). Error = received frame - scheduled frame, with the schedule anchored on the median
   offset (the bar the clip starts on is the daemon's choice). Run once idle and once while a second client
   process sends searches back to back. Lost = expected - received events; xruns from the daemon's status.
4. RSS of the daemon from its status, after everything.
Numbers on a shared 2-core machine are noisy; they are measurements, not test thresholds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "daemon"))

from daemon_harness import JackServer, OscClient, Recorder, free_udp_port  # noqa: E402
from queries import TEXT_QUERIES  # noqa: E402  (bench/ is on sys.path when a bench script runs)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402

TEMPO = 300.0
RATE = 48000
TEXTS = list(TEXT_QUERIES)


def _search_bench():
    spec = importlib.util.spec_from_file_location("bench_search", REPO / "bench" / "search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pct(values, q) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 3) if len(values) else float("nan")


def start(db: Path, jack: JackServer | None, model: bool, home: Path) -> tuple[subprocess.Popen, int, dict]:
    port = free_udp_port()
    env = dict(os.environ, MIDIBRIDGE_HOME=str(home))
    cmd = [sys.executable, "-m", "bridge", "serve", "--port", str(port), "--db", str(db), "--log-level", "WARNING"]
    cmd += ["--play-dir", str(home.parent)]  # the timing clip is written there (play/file reads no other folder)
    cmd += [] if model else ["--no-model"]
    if jack is not None:
        env.update(jack.env())
        cmd += ["--midi-api", "jack", "--rt-priority", "1"]
    else:
        cmd += ["--midi-api", "none"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = OscClient(port)
    ready = None
    while time.perf_counter() - t0 < 60:
        client.send("/midibridge/ping", 0)
        m = client.receive(0.05)
        if m is not None and m.address == "/midibridge/ping":
            ready = time.perf_counter() - t0
            break
    if ready is None:
        proc.kill()
        raise RuntimeError("daemon did not answer ping within 60 s")
    while client.status()["library"] == "loading":
        time.sleep(0.02)
    library_ready = time.perf_counter() - t0
    status = client.status()
    client.close()
    return (
        proc,
        port,
        {
            "to_ping_s": round(ready, 3),
            "to_library_ready_s": round(library_ready, 3),
            "library": status["library"],
            "windows": status["library_size"],
            "models": status["models"],
        },
    )


def in_process_baseline(db: Path, encoder, texts: list[str]) -> dict:
    """The same searches through Library.search in this process: what the daemon adds is the difference."""
    from bridge.library import Library, SearchQuery

    lib = Library.open(db, encoder=encoder)
    n = len(texts) - 6  # the last 6 warm up
    for t in texts[n:]:
        lib.search(SearchQuery(text=t, k=10))
    ms = []
    for text in texts[:n]:
        t = time.perf_counter()
        lib.search(SearchQuery(text=text, k=10))
        ms.append((time.perf_counter() - t) * 1e3)
    lib.close()
    return {"searches": n, "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99)}


def ping_round_trips(port: int, n: int) -> dict:
    """The daemon's own share of a round trip: parse, dispatch, reply, no worker."""
    client = OscClient(port)
    ms = []
    for i in range(n):
        t = time.perf_counter()
        client.request("/midibridge/ping", i)
        ms.append((time.perf_counter() - t) * 1e3)
    client.close()
    return {"pings": n, "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99)}


def search_round_trips(port: int, texts: list[str], windows: int) -> dict:
    """`n` distinct texts (the daemon keeps the vectors of texts it has seen: a repeated text would not time
    the text tower), then the last 50 of them again (`repeated`: what a second page or a toggled filter costs)."""
    client = OscClient(port)
    n = len(texts) - 6  # the last 6 warm up
    for i, text in enumerate(texts[n:]):  # warm-up: first runs allocate
        client.request("/midibridge/search/text", i, 10, text, reply="/midibridge/search/end")

    def timed(batch: list[str], first_id: int) -> list[float]:
        ms = []
        for i, text in enumerate(batch):
            t = time.perf_counter()
            msgs = client.request("/midibridge/search/text", first_id + i, 10, text, reply="/midibridge/search/end")
            ms.append((time.perf_counter() - t) * 1e3)
            assert msgs[-1].params[1] >= min(1, windows), msgs[-1].params
        return ms

    ms = timed(texts[:n], 1000)
    again = timed(texts[max(0, n - 50) : n], 1000 + n)  # the most recent (the daemon keeps the last 256)
    client.close()
    return {"searches": n, "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": pct(ms, 100),
            "repeated": {"searches": len(again), "p50_ms": pct(again, 50), "p99_ms": pct(again, 99)}}


def hammer(port: int, seconds: float) -> None:
    """Second client process: searches back to back (the load for the timing run)."""
    client = OscClient(port)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        client.request(
            "/midibridge/search/text",
            500_000 + i,
            10,
            TEXTS[i % len(TEXTS)],
            reply="/midibridge/search/end",
            timeout=30,
        )
        i += 1
    print(i)


def timing_run(port: int, jack: JackServer, clip: Path, n_notes: int, load: bool) -> dict:
    client = OscClient(port)
    recorder = Recorder(jack.name, f"bench-rec-{int(load)}")
    recorder.connect_from("midibridge:out")
    before = client.status()
    seconds = n_notes / 8 * 60 / TEMPO + 2
    hammer_proc = None
    if load:
        hammer_proc = subprocess.Popen(
            [sys.executable, __file__, "--hammer", str(port), str(seconds + 1)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.5)
    client.request("/midibridge/play/file", 1, str(clip), "bar")
    time.sleep(seconds + 0.5)
    deadline = time.monotonic() + 10
    while len(recorder.events) < 2 * n_notes and time.monotonic() < deadline:
        time.sleep(0.1)
    searches = None
    if hammer_proc is not None:
        out, _ = hammer_proc.communicate(timeout=60)
        searches = int(out.strip() or 0)
    after = client.status()
    recorder.close()
    client.close()
    # Schedule: note-on of note i at i*step frames, its note-off half a step later (32nds at 300 BPM: step 1200).
    # The first 16 events fix the anchor (the bar the clip starts on); every event is then compared with the
    # nearest grid point of its kind, so an event lost in an xrun does not shift the others.
    step = RATE * 60 / TEMPO / 8
    events = [(f, d[0] & 0xF0) for f, d in recorder.events if d[0] & 0xF0 in (0x80, 0x90)]
    first = [f - (0 if kind == 0x90 else step / 2) - i // 2 * step for i, (f, kind) in enumerate(events[:16])]
    anchor = float(np.median(first)) if first else 0.0
    errors = []
    for f, kind in events:
        rel = f - anchor - (0 if kind == 0x90 else step / 2)
        errors.append(abs(rel - round(rel / step) * step))
    errors = np.asarray(errors)
    return {
        "under_search_load": load,
        "searches_during_run": searches,
        "events_expected": 2 * n_notes,
        "events_received": len(recorder.events),
        "lost": 2 * n_notes - len(recorder.events),
        "error_frames_p50": pct(errors, 50),
        "error_frames_p99": pct(errors, 99),
        "error_frames_max": pct(errors, 100),
        "exact_share": round(float((errors == 0).mean()), 4) if len(errors) else 0.0,
        "daemon_xruns": after["xruns"] - before["xruns"],
        "recorder_xruns": recorder.xruns,
        "late": after["late"] - before["late"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=10_000)
    ap.add_argument("--searches", type=int, default=300)
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--period", type=int, default=256)
    ap.add_argument("--no-jack", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--hammer", nargs=2, metavar=("PORT", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    info = announce()
    if args.hammer:
        hammer(int(args.hammer[0]), float(args.hammer[1]))
        return

    from bridge.music import NoteList, Piece, TempoChange, save_midi

    logging.disable(logging.WARNING)  # the library warns on every feature-ranked search

    sb = _search_bench()
    encoder, real = sb.load_encoder()
    report: dict = {"machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}, "run": info}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        sb.synthetic_index(tmp / "db", args.windows, encoder)
        report["index_write_s"] = round(time.perf_counter() - t, 1)
        jack = None if args.no_jack else JackServer(period=args.period).start()
        proc = None
        try:
            proc, port, report["cold_start"] = start(tmp / "db", jack, real, tmp / "home")
            report["ping_round_trip"] = ping_round_trips(port, 1000)
            texts = sb.distinct_queries(args.searches + 6)  # the texts bench/search.py measures
            report["search_round_trip"] = search_round_trips(port, texts, report["cold_start"]["windows"])
            report["library_search_in_process"] = in_process_baseline(tmp / "db", encoder if real else None, texts)
            if jack is not None:
                notes = NoteList.from_tuples([(i / 8, 1 / 16, 60 + i % 24, 90) for i in range(args.notes)])
                clip = tmp / "clip.mid"
                save_midi(Piece(notes=notes, tempos=(TempoChange(0.0, TEMPO),)), clip)
                c = OscClient(port)
                c.request("/midibridge/tempo/set", 1, TEMPO, reply="/midibridge/tempo/get")
                c.close()
                report["midi_timing"] = [timing_run(port, jack, clip, args.notes, load) for load in (False, True)]
                report["jack"] = {"rate": RATE, "period": args.period}
            c = OscClient(port)
            st = c.status()
            report["rss_mb"] = {
                "daemon": st["rss_mb"],
                "search_worker": st["rss_mb_worker"],
                "total": round(st["rss_mb"] + st["rss_mb_worker"], 1),
            }
            c.close()
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
            if jack is not None:
                jack.stop()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
