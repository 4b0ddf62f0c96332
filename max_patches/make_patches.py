"""Writes midibridge.maxpat and midibridge_device.maxpat (Max JSON) from one description.

Max patchers are JSON; generating them keeps the box ids, connections and OSC addresses consistent, and
the test (tests/daemon/test_patches.py) checks every address they use against the daemon's table.
Run: python max_patches/make_patches.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


class Patcher:
    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []
        self._n = 0

    def box(self, text: str, x: float, y: float, maxclass: str = "newobj", w: float = 0, inlets: int = 1,
            outlets: int = 1, **extra) -> str:
        self._n += 1
        bid = f"obj-{self._n}"
        b = {"id": bid, "maxclass": maxclass, "numinlets": inlets, "numoutlets": outlets,
             "patching_rect": [x, y, w or max(60.0, 7.0 * len(text) + 10), 22.0]}
        if maxclass in ("newobj", "message", "comment"):
            b["text"] = text
        b["outlettype"] = [""] * outlets
        b.update(extra)
        self.boxes.append({"box": b})
        return bid

    def connect(self, src: str, outlet: int, dst: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [src, outlet], "destination": [dst, inlet]}})

    def to_json(self, rect=(60.0, 80.0, 980.0, 640.0), device: bool = False) -> dict:
        patcher = {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box",
            "rect": list(rect),
            "openinpresentation": 0,
            "default_fontsize": 12.0,
            "gridsize": [15.0, 15.0],
            "boxes": self.boxes,
            "lines": self.lines,
            "dependency_cache": [{"name": "midibridge_clip.js", "bootpath": ".", "type": "TEXT", "implicit": 1}],
        }
        if device:
            patcher["project"] = {"amxdtype": 1633771873}  # 'aaaa': a MIDI device
        return {"patcher": patcher}


def build(device: bool) -> dict:
    p = Patcher()
    title = "midibridge Max for Live MIDI device" if device else "midibridge: search your MIDI library from Max"
    p.box(title + " (see docs/ableton.md)", 20, 10, "comment", w=600)

    # Network: send to the daemon on 9000; replies come back on 9001, announced with /midibridge/reply_port.
    send = p.box("udpsend 127.0.0.1 9000", 20, 600, outlets=0)
    recv = p.box("udpreceive 9001", 520, 250)
    lb = p.box("loadbang", 520, 40)
    hello = p.box("/midibridge/reply_port 1 9001", 520, 70, "message", inlets=2)
    p.connect(lb, 0, hello)
    p.connect(hello, 0, send)

    # Search: type a phrase, press return. Max splits it into words; the daemon joins them again.
    p.box("Type a search and press return:", 20, 40, "comment", w=260)
    text = p.box("", 20, 65, "textedit", w=300, outlets=4, keymode=1, lines=1)
    route_text = p.box("route text", 20, 95, outlets=2)
    order = p.box("t b b l", 20, 125, outlets=3)  # right to left: words, clear the menu, then the id
    k = p.box("prepend 10", 200, 155)  # k = 10 hits
    join = p.box("zl.join", 20, 185, inlets=2, outlets=2)
    search_ids = p.box("counter 1 100000", 20, 155, inlets=5, outlets=4)
    prefix = p.box("prepend /midibridge/search/text", 20, 215)
    p.connect(text, 0, route_text)
    p.connect(route_text, 0, order)
    p.connect(order, 2, k)
    p.connect(k, 0, join, 1)
    p.connect(order, 0, search_ids)
    p.connect(search_ids, 0, join)
    p.connect(join, 0, prefix)
    p.connect(prefix, 0, send)

    # Replies: each hit appends its file to the menu; the search id is kept for play/write requests.
    route = p.box("route /midibridge/search/hit /midibridge/search/end /midibridge/error "
                  "/midibridge/hit/note /midibridge/hit/end", 520, 280, outlets=6)
    p.connect(recv, 0, route)
    unpack = p.box("unpack 0 0 s f", 520, 310, outlets=4)
    append = p.box("prepend append", 600, 340)
    hits = p.box("", 520, 400, "umenu", w=420, outlets=3)
    clear = p.box("clear", 200, 370, "message", inlets=2)
    keep = p.box("int", 760, 340, inlets=2)
    p.connect(route, 0, unpack)
    p.connect(unpack, 0, keep, 1)
    p.connect(unpack, 2, append)
    p.connect(append, 0, hits)
    p.connect(order, 1, clear)
    p.connect(clear, 0, hits)
    p.connect(route, 2, p.box("print midibridge-error", 760, 310, outlets=0))

    # Click a hit: play it into "midibridge out" at the next bar, or (toggle on, in Live) write its notes
    # into the selected clip slot: /midibridge/hit/notes -> midibridge_clip.js -> live.object add_new_notes.
    p.box("Click a hit: play at the next bar. Toggle on: write into the selected Live clip slot.", 520, 430,
          "comment", w=420)
    choose = p.box("t b b i", 520, 460, outlets=3)  # rank, then the search id, then the request id
    pack = p.box("pack 0 0 0", 520, 520, inlets=3)
    ids = p.box("counter 100001 200000", 520, 490, inlets=5, outlets=4)
    p.connect(hits, 0, choose)
    p.connect(choose, 2, pack, 2)
    p.connect(choose, 1, keep)
    p.connect(keep, 0, pack, 1)
    p.connect(choose, 0, ids)
    p.connect(ids, 0, pack)
    write = p.box("", 760, 460, "toggle", w=24, outlets=1)
    plus = p.box("+ 1", 760, 490, inlets=2)
    gate = p.box("gate 2", 520, 550, inlets=2, outlets=2)
    p.connect(write, 0, plus)
    p.connect(plus, 0, gate)
    p.connect(pack, 0, gate, 1)
    play = p.box("prepend /midibridge/play/hit", 520, 580)
    bar = p.box("append bar", 520, 610)
    notes = p.box("prepend /midibridge/hit/notes", 760, 580)
    p.connect(gate, 0, play)
    p.connect(play, 0, bar)
    p.connect(bar, 0, send)
    p.connect(gate, 1, notes)
    p.connect(notes, 0, send)

    clip = p.box("js midibridge_clip.js", 760, 640, outlets=1)
    note = p.box("prepend note", 760, 610)
    end = p.box("prepend end", 900, 610)
    p.connect(route, 3, note)
    p.connect(route, 4, end)
    p.connect(note, 0, clip)
    p.connect(end, 0, clip)
    p.connect(clip, 0, p.box("print midibridge-clip", 760, 670, outlets=0))

    # Transport and query by playing.
    for i, msg in enumerate(("/midibridge/play/stop 3", "/midibridge/status 4", "/midibridge/capture/start 5 5 1",
                             "/midibridge/capture/stop 6", "/midibridge/clock/source 7 midi")):
        box = p.box(msg, 20, 300 + 30 * i, "message", inlets=2)
        p.connect(box, 0, send)

    if device:
        # A MIDI effect passes its track's MIDI through; route the track to "midibridge in" to play queries.
        midiin = p.box("midiin", 20, 480)
        midiout = p.box("midiout", 20, 520, outlets=0)
        p.connect(midiin, 0, midiout)
    return p.to_json(device=device)


def main() -> None:
    (HERE / "midibridge.maxpat").write_text(json.dumps(build(False), indent=1) + "\n")
    (HERE / "midibridge_device.maxpat").write_text(json.dumps(build(True), indent=1) + "\n")


if __name__ == "__main__":
    main()
