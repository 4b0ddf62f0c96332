"""ping, status, reply_port."""

from __future__ import annotations

import os
import time

from bridge import __version__
from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, Reply, Request


def status_pairs(ctx: Context) -> list[tuple[str, object]]:
    midi = ctx.midi.status()
    search = ctx.search.status()
    errors = ctx.stats.as_dict()
    try:
        import psutil

        me = psutil.Process(os.getpid())
        rss_mb = me.memory_info().rss / 1e6
        worker_mb = sum(c.memory_info().rss for c in me.children(recursive=True)) / 1e6
    except Exception:  # psutil is a dependency, but status must never fail over it
        rss_mb = worker_mb = 0.0
    pairs: list[tuple[str, object]] = [
        ("version", __version__),
        ("uptime", round(time.monotonic() - ctx.started, 3)),
        ("library", search["state"]),
        ("library_problem", search["problem"]),
        ("library_size", int(search["windows"])),
        ("search", str(search.get("search", "exact"))),  # "exact" or "approximate (faiss, N unique vectors)"
        ("models", ",".join(search["models"])),
        ("searches", int(search["searches"])),
        ("worker_restarts", int(search["restarts"])),
        ("indexing", int(search.get("indexing", False))),
        ("midi_backend", midi["backend"]),
        ("midi_problem", midi["problem"]),
        ("ports", ",".join(midi["ports"])),
        ("tempo", float(midi["clock"]["bpm"])),
        ("clock_source", midi["clock"]["source"]),
        ("link_peers", int(midi.get("link_peers", -1))),
        ("beat", float(midi["clock"]["beat"])),
        ("running", int(midi["clock"]["running"])),
        ("sounding", int(midi["sounding"])),
        ("pending", int(midi["pending"])),
        ("sent", int(midi["sent"])),
        ("late", int(midi["late"])),
        ("dropped", int(midi["dropped"])),
        ("xruns", int(midi["xruns"])),
        ("writer_errors", int(midi.get("writer_errors", 0))),
        ("capturing", int(midi["capturing"])),
        ("phrases", int(midi["phrases"])),
        ("rss_mb", round(rss_mb, 1)),
        ("rss_mb_worker", round(worker_mb, 1)),
    ]
    pairs += [(f"errors_{k}" if k != "total" else "errors", int(v)) for k, v in errors.items()]
    pairs += [(k, v) for k, v in ctx.info.items()]
    if ctx.live is not None:  # the jam: state, bars, late/held bars, generation time per bar
        pairs += list(ctx.live.status().items())
    return pairs


def table(ctx: Context):
    def ping(req: Request) -> list[Reply]:
        return [Reply(f"{PREFIX}/ping", (req.id, "pong", __version__))]

    def status(req: Request) -> list[Reply]:
        flat: list[object] = [req.id]
        for key, value in status_pairs(ctx):
            flat += [key, value]
        return [Reply(f"{PREFIX}/status", tuple(flat))]

    def reply_port(req: Request) -> list[Reply]:
        ctx.reply_port(req.sender, req["port"], req["scope"])  # this client's replies (or its host's, asked)
        return [Reply(f"{PREFIX}/reply_port", (req.id, req["port"], req["scope"]))]

    return [(f"{PREFIX}/ping", ping), (f"{PREFIX}/status", status), (f"{PREFIX}/reply_port", reply_port)]
