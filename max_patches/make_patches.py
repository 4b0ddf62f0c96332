"""Writes midibridge.maxpat and midibridge_device.maxpat (Max JSON) and the Pure Data twin pd/midibridge.pd
from one description.

Max patchers are JSON; generating them keeps the box ids, connections and OSC addresses consistent, and
the test (tests/daemon/test_patches_and_docs.py) checks every address they (and their js) use against the
daemon's table and docs/protocol.md.
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

    def to_json(self, rect=(60.0, 80.0, 1100.0, 1300.0), device: bool = False) -> dict:
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
            "dependency_cache": [{"name": name, "bootpath": ".", "type": "TEXT", "implicit": 1}
                                 for name in ("midibridge_clip.js", "midibridge_jam.js")],
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
    boot = p.box("t b b", 520, 70, outlets=2)  # right to left: announce the reply port, then listen to the jam
    hello = p.box("/midibridge/reply_port 1 9001", 600, 100, "message", inlets=2)
    p.connect(lb, 0, boot)
    p.connect(boot, 1, hello)
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

    jam_panel(p, send, recv_unmatched=(route, 5), boot=(boot, 0))

    if device:
        # A MIDI effect passes its track's MIDI through; route the track to "midibridge in" to play queries.
        midiin = p.box("midiin", 20, 480)
        midiout = p.box("midiout", 20, 520, outlets=0)
        p.connect(midiin, 0, midiout)
        live_clock(p, send)
    return p.to_json(device=device)


KEYS = ["auto"] + [f"{tonic}-{mode}" for mode in ("major", "minor")
                   for tonic in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")]


def menu_items(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [item, ","]
    return out[:-1]


def jam_panel(p: Patcher, send: str, recv_unmatched: tuple[str, int], boot: tuple[str, int]) -> None:
    """The generate panel: prompt, play (start/stop), key, temperature, density, call and response, latency,
    the current chord. midibridge_jam.js keeps the controls and composes the requests; the replies it needs
    (generate/start, state, bar, stop and tempo/get) reach it through the search route's unmatched outlet."""
    y = 720
    p.box("Jam: a generated stream (chords ch 12, bass ch 13, melody ch 14) into midibridge out, from the next "
          "bar line. CC 20 / CC 21 on midibridge in: start/stop, arm a call.", 20, y, "comment", w=900)
    jam = p.box("js midibridge_jam.js", 520, y + 300, outlets=2)
    p.connect(jam, 0, send)

    # Replies for the jam.
    jroute = p.box("route /midibridge/generate/start /midibridge/generate/state /midibridge/generate/bar "
                   "/midibridge/tempo/get /midibridge/generate/stop", 520, y + 240, outlets=6)
    p.connect(*recv_unmatched, jroute)
    for i, name in enumerate(("started", "state", "bar", "tempo", "stopped")):
        pre = p.box(f"prepend {name}", 520 + 90 * i, y + 270)
        p.connect(jroute, i, pre)
        p.connect(pre, 0, jam)

    # Listen to the stream (on load, after the reply port), and keep the js's idea of the daemon's beat fresh.
    listen = p.box("/midibridge/generate/listen 33 1", 760, y + 30, "message", inlets=2)
    p.connect(*boot, listen)
    p.connect(listen, 0, send)
    poll_on = p.box("1", 760, y + 60, "message", inlets=2)
    p.connect(*boot, poll_on)
    metro = p.box("metro 1000", 760, y + 90, inlets=2)
    poll = p.box("/midibridge/tempo/get 38", 760, y + 120, "message", inlets=2)
    p.connect(poll_on, 0, metro)
    p.connect(metro, 0, poll)
    p.connect(poll, 0, send)

    # Prompt and play: the toggle first makes the text box send its text (so return is optional).
    p.box("Prompt:", 20, y + 30, "comment", w=60)
    text = p.box("", 80, y + 30, "textedit", w=420, outlets=4, keymode=1, lines=1)
    to_prompt = p.box("route text", 80, y + 60, outlets=2)
    pre_prompt = p.box("prepend prompt", 80, y + 90)
    p.connect(text, 0, to_prompt)
    p.connect(to_prompt, 0, pre_prompt)
    p.connect(pre_prompt, 0, jam)
    p.box("Play", 20, y + 120, "comment", w=40)
    play = p.box("", 60, y + 120, "toggle", w=24, outlets=1)
    play_t = p.box("t i b", 60, y + 150, outlets=2)
    pre_play = p.box("prepend play", 60, y + 180)
    p.connect(play, 0, play_t)
    p.connect(play_t, 1, text)
    p.connect(play_t, 0, pre_play)
    p.connect(pre_play, 0, jam)
    stop = p.box("/midibridge/generate/stop 31", 100, y + 210, "message", inlets=2)
    p.connect(stop, 0, send)

    # Controls: sent with the next start, and at once (generate/set, from the next bar) while a stream plays.
    p.box("Key", 200, y + 120, "comment", w=40)
    key = p.box("", 240, y + 120, "umenu", w=100, outlets=3, items=menu_items(KEYS))
    pre_key = p.box("prepend key", 240, y + 150)
    p.connect(key, 1, pre_key)
    p.connect(pre_key, 0, jam)
    p.box("Temperature", 350, y + 120, "comment", w=80)
    temp = p.box("", 430, y + 120, "flonum", w=50, outlets=2, minimum=0.0, maximum=2.0)
    pre_temp = p.box("prepend temperature", 430, y + 150)
    p.connect(temp, 0, pre_temp)
    p.connect(pre_temp, 0, jam)
    p.box("Density (-1 auto)", 20, y + 240, "comment", w=110)
    dens = p.box("", 130, y + 240, "number", w=40, outlets=2, minimum=-1, maximum=3)
    pre_dens = p.box("prepend density", 130, y + 270)
    p.connect(dens, 0, pre_dens)
    p.connect(pre_dens, 0, jam)

    # Call and response: armed, the next phrase played into midibridge in is answered (or harmonised).
    p.box("Call", 20, y + 310, "comment", w=40)
    call = p.box("", 60, y + 310, "toggle", w=24, outlets=1)
    pre_call = p.box("prepend call", 60, y + 340)
    p.connect(call, 0, pre_call)
    p.connect(pre_call, 0, jam)
    mode = p.box("", 100, y + 310, "umenu", w=100, outlets=3, items=menu_items(["respond", "harmonize"]))
    pre_mode = p.box("prepend callmode", 100, y + 340)
    p.connect(mode, 1, pre_mode)
    p.connect(pre_mode, 0, jam)
    p.box("bars (0: until silence)", 210, y + 310, "comment", w=140)
    cbars = p.box("", 350, y + 310, "number", w=40, outlets=2, minimum=0, maximum=32)
    pre_cbars = p.box("prepend callbars", 350, y + 340)
    p.connect(cbars, 0, pre_cbars)
    p.connect(pre_cbars, 0, jam)
    p.box("Latency ms", 20, y + 380, "comment", w=80)
    lat = p.box("", 100, y + 380, "flonum", w=50, outlets=2, minimum=0.0, maximum=500.0)
    pre_lat = p.box("prepend latency", 100, y + 410)
    p.connect(lat, 0, pre_lat)
    p.connect(pre_lat, 0, jam)

    # What the js shows: the chord sounding now, the bar, what is coming, the key; it also sets the toggles.
    shows = p.box("route chord bar next key playing call held", 520, y + 330, outlets=8)
    p.connect(jam, 1, shows)
    labels = ("Chord now", "Bar", "Next bar", "Key")
    for i, label in enumerate(labels):
        p.box(label, 520 + 110 * i, y + 390, "comment", w=100)
        pre = p.box("prepend set", 520 + 110 * i, y + 360)
        shown = p.box("-", 520 + 110 * i, y + 420, "message", w=100, inlets=2,
                      **({"fontsize": 24.0} if i == 0 else {}))
        p.connect(shows, i, pre)
        p.connect(pre, 0, shown)
    for i, target in enumerate((play, call)):
        pre = p.box("prepend set", 960 + 90 * i, y + 360)
        p.connect(shows, 4 + i, pre)
        p.connect(pre, 0, target)
    p.box("held (late)", 960, y + 390, "comment", w=80)
    held = p.box("", 960, y + 420, "toggle", w=24, outlets=1)
    pre_held = p.box("prepend set", 1050, y + 420)
    p.connect(shows, 6, pre_held)
    p.connect(pre_held, 0, held)


def live_clock(p: Patcher, send: str) -> None:
    """Live's tempo and song position once per bar: /midibridge/clock/sync bpm beat beats_per_bar, so the
    daemon's bars are Live's bars without routing MIDI clock. [transport] in a device reports Live's
    transport; its outlets fire right to left (ticks, state, denominator, numerator, tempo), so the tempo
    arrives last, in the hot inlet of the pack."""
    y = 1180
    p.box("Follow Live (on: /midibridge/clock/sync each bar; off to use MIDI clock instead):", 20, y, "comment",
          w=500)
    follow = p.box("", 520, y, "toggle", w=24, outlets=1)
    lb = p.box("loadbang", 560, y)
    on = p.box("1", 640, y, "message", inlets=2)
    p.connect(lb, 0, on)
    p.connect(on, 0, follow)
    each_bar = p.box("metro 1n @quantize 1n @active 1", 20, y + 30, inlets=2)
    transport = p.box("transport", 20, y + 60, inlets=2, outlets=9)
    p.connect(each_bar, 0, transport)
    beats = p.box("/ 480.", 300, y + 90, inlets=2)  # ticks (480 per quarter note) -> quarter notes
    meter = p.box("pack 0 0", 160, y + 90, inlets=2)
    per_bar = p.box("expr $i1 * 4 / $i2", 160, y + 120, inlets=2)  # quarter notes per bar
    sync = p.box("pack 0. 0. 4", 20, y + 150, inlets=3)
    p.connect(transport, 8, beats)
    p.connect(beats, 0, sync, 1)
    p.connect(transport, 6, meter, 1)
    p.connect(transport, 5, meter, 0)
    p.connect(meter, 0, per_bar)
    p.connect(per_bar, 0, sync, 2)
    p.connect(transport, 4, sync, 0)
    gate = p.box("gate 1 1", 20, y + 180, inlets=2)
    p.connect(follow, 0, gate)
    p.connect(sync, 0, gate, 1)
    address = p.box("prepend /midibridge/clock/sync 36", 20, y + 210)
    p.connect(gate, 0, address)
    p.connect(address, 0, send)
    internal = p.box("/midibridge/clock/source 8 internal", 300, y + 210, "message", inlets=2)
    p.connect(internal, 0, send)


# ---------------------------------------------------------------------- Pure Data twin


class PdPatch:
    """A Pd patch as lines; `add` returns the object's index (the order Pd numbers objects in)."""

    def __init__(self, header: str) -> None:
        self.header = header
        self.items: list[str] = []
        self.lines: list[tuple[int, int, int, int]] = []

    def add(self, line: str) -> int:
        self.items.append(line)
        return len(self.items) - 1

    def obj(self, x: int, y: int, text: str) -> int:
        return self.add(f"#X obj {x} {y} {text}")

    def msg(self, x: int, y: int, text: str) -> int:
        return self.add(f"#X msg {x} {y} {text}")

    def text(self, x: int, y: int, text: str) -> int:
        return self.add(f"#X text {x} {y} {text}")

    def connect(self, a: int, outlet: int, b: int, inlet: int = 0) -> None:
        self.lines.append((a, outlet, b, inlet))

    def render(self) -> str:
        body = [self.header] + self.items + [f"#X connect {a} {o} {b} {i}" for a, o, b, i in self.lines]
        return ";\n".join(body) + ";\n"


PD_JAM_ADDRESSES = ("generate start", "generate stop", "generate set", "generate listen", "generate call start",
                    "generate call stop", "clock sync", "latency set", "tempo get")
PD_BEATS = 8  # chords per bar the current-chord display follows (a bar of up to 8 quarter notes)


def build_pd() -> str:
    p = PdPatch("#N canvas 40 40 1180 980 12")
    # The search twin (indices 0..35 as in the hand-written original, which tests and docs refer to).
    p.text(20, 10, "midibridge - Pure Data twin of max_patches/midibridge.maxpat (Pd 0.51+). Same OSC addresses "
           "(docs/protocol.md). Sends to 127.0.0.1:9000 and listens for replies on 9001., f 110")
    net = p.obj(20, 330, "netsend -u -b")
    trim = p.obj(20, 300, "list trim")
    send = p.obj(20, 270, "list prepend send")
    lb = p.obj(620, 40, "loadbang")
    connect = p.msg(620, 110, "connect 127.0.0.1 9000")
    cmd = p.obj(20, 60, "r mb-cmd")
    route = p.obj(20, 90, "route ping status search play stop reply_port example")
    oscs = [p.obj(20, 200, "oscformat midibridge ping"), p.obj(60, 230, "oscformat midibridge status"),
            p.obj(230, 200, "oscformat midibridge search text"), p.obj(300, 230, "oscformat midibridge play hit"),
            p.obj(450, 200, "oscformat midibridge play stop"), p.obj(500, 230, "oscformat midibridge reply_port")]
    netrecv = p.obj(620, 400, "netreceive -u -b")
    parse = p.obj(620, 430, "oscparse")
    rtrim = p.obj(620, 460, "list trim")
    rmb = p.obj(620, 490, "route midibridge")
    printer = p.obj(620, 550, "print midibridge")
    boot = p.obj(620, 70, "t b b b")
    listen = p.msg(780, 110, "listen 9001")
    hello = p.msg(820, 150, "reply_port 0 9001")
    hello_s = p.obj(820, 180, "s mb-cmd")
    rnet = p.obj(20, 380, "r mb-net")
    rlisten = p.obj(620, 370, "r mb-listen")
    p.text(20, 420, "Search: edit the words and click (request id 1 \\, 5 hits)")
    search = p.msg(20, 450, "search 1 5 sad piano melody")
    cmd_s = p.obj(20, 560, "s mb-cmd")
    rank = p.add("#X floatatom 300 450 5 0 99 0 - - - 0")
    play = p.msg(300, 480, "play 2 1 \\$1 bar")
    stop = p.msg(430, 480, "stop 3")
    status = p.msg(500, 480, "status 4")
    ping = p.msg(580, 480, "ping 5")
    p.text(300, 420, "Hit rank to play (of search 1):")
    example = p.obj(720, 200, "oscformat midibridge search example")
    rsearch = p.obj(620, 520, "route search error")
    assert rsearch == 35
    p.connect(trim, 0, net)
    p.connect(send, 0, trim)
    p.connect(lb, 0, boot)
    p.connect(connect, 0, net)
    p.connect(cmd, 0, route)
    for i, o in enumerate(oscs + [example]):
        p.connect(route, i, o)
        p.connect(o, 0, send)
    p.connect(netrecv, 0, parse)
    p.connect(parse, 0, rtrim)
    p.connect(rtrim, 0, rmb)
    p.connect(rmb, 0, printer)
    p.connect(rmb, 0, rsearch)
    boot_jam = p.obj(820, 70, "t b b")  # right to left: announce the reply port, then listen to the jam
    p.connect(boot, 0, boot_jam)
    p.connect(boot_jam, 1, hello)
    p.connect(boot, 1, listen)
    p.connect(boot, 2, connect)
    p.connect(listen, 0, netrecv)
    p.connect(hello, 0, hello_s)
    p.connect(rnet, 0, net)
    p.connect(rlisten, 0, netrecv)
    for box in (search, play, stop, status, ping):
        p.connect(box, 0, cmd_s)
    p.connect(rank, 0, play)

    pd_jam(p, send, route, rmb, boot_jam)
    return p.render()


def pd_jam(p: PdPatch, send: int, route: int, rmb: int, boot_jam: int) -> None:
    """The generate panel of the Pd twin: [s mb-jam] takes prompt, play, key, temperature, density, call, mode,
    callbars, latency and listen; replies show the key, the bar, the next bar's chords and the chord sounding
    now (the daemon's beat is read from /midibridge/tempo/get once a second and carried by [timer])."""
    x, y = 20, 620
    p.text(x, y, "Jam: a generated stream (chords ch 12 \\, bass ch 13 \\, melody ch 14) into midibridge out from "
           "the next bar line. Edit and click the boxes. CC 20 / CC 21 on midibridge in: start/stop \\, arm a "
           "call. Other patches: [s mb-jam] (see docs/ableton.md)., f 110")
    jam_s = p.obj(x, y + 330, "s mb-jam")
    for mx, text in ((0, "prompt a slow melancholic waltz in D minor"), (330, "key D-minor"), (430, "key auto"),
                     (520, "density auto"), (640, "mode respond"), (760, "mode harmonize"), (900, "listen")):
        p.connect(p.msg(x + mx, y + 50, text), 0, jam_s)
    for mx, label, lo, hi, message in ((0, "play", 0, 1, "play"), (90, "temperature", 0, 2, "temperature"),
                                       (230, "density", 0, 3, "density"), (350, "call", 0, 1, "call"),
                                       (450, "callbars", 0, 32, "callbars"), (580, "latency_ms", 0, 500, "latency")):
        atom = p.add(f"#X floatatom {x + mx} {y + 100} 5 {lo} {hi} 0 {label} mb-{message}-show - 0")
        box = p.msg(x + mx, y + 130, f"{message} \\$1")
        p.connect(atom, 0, box)
        p.connect(box, 0, jam_s)
    p.text(x, y + 170, "Chord now / bar / next bar / key:")
    for mx, name, width in ((0, "chord", 8), (120, "bar", 5), (220, "next", 30), (560, "key", 12)):
        kind = "floatatom" if name == "bar" else "symbolatom"
        p.add(f"#X {kind} {x + mx} {y + 200} {width} 0 0 0 - mb-{name}-show - 0")

    # Raw requests for other patches: [s mb-cmd] generate_start <id> <prompt> <controls...> and so on.
    raw = p.obj(20, 130, "route " + " ".join(a.replace(" ", "_") for a in PD_JAM_ADDRESSES))
    p.connect(route, 7, raw)
    osc = {}
    for i, address in enumerate(PD_JAM_ADDRESSES):
        osc[address] = p.obj(900 + 0 * i, 240 + 26 * i, f"oscformat midibridge {address}")
        p.connect(raw, i, osc[address])
        p.connect(osc[address], 0, send)

    bx, by = 20, 1000  # the panel's logic
    rjam = p.obj(bx, by, "r mb-jam")
    cmds = p.obj(bx, by + 30, "route prompt play key temperature density call mode callbars latency listen")
    p.connect(rjam, 0, cmds)
    # The start request: [list append] chain, each right inlet holding one slot: prompt, key, temperature,
    # density. The prompt is one string (fudiformat joins the words, numbers too); an empty one is "".
    chain = [p.obj(bx + 400 + 10 * i, by + 200 + 30 * i, "list append") for i in range(4)]
    for a, b in zip(chain, chain[1:]):
        p.connect(a, 0, b)
    start_id = p.obj(bx + 440, by + 320, "list prepend 30")
    p.connect(chain[-1], 0, start_id)
    p.connect(start_id, 0, osc["generate start"])
    empty = p.msg(bx, by + 90, "symbol")
    is_empty = p.obj(bx, by + 60, "route bang")
    words = p.obj(bx + 60, by + 90, "fudiformat -u")
    joined = p.obj(bx + 60, by + 120, "list tosymbol")
    p.connect(cmds, 0, is_empty)
    p.connect(is_empty, 0, empty)
    p.connect(is_empty, 1, words)
    p.connect(words, 0, joined)
    p.connect(empty, 0, chain[0], 1)
    p.connect(joined, 0, chain[0], 1)
    init = p.obj(bx + 200, by, "loadbang")
    p.connect(init, 0, empty)
    # play 1: start; play 0: stop.
    play = p.obj(bx + 150, by + 60, "sel 0")
    go = p.obj(bx + 200, by + 90, "t b")
    stop = p.msg(bx + 150, by + 90, "31")
    p.connect(cmds, 1, play)
    p.connect(play, 0, stop)
    p.connect(play, 1, go)
    p.connect(go, 0, chain[0])
    p.connect(stop, 0, osc["generate stop"])
    # Controls: stored in their slot, and sent at once (generate/set) while a stream plays.
    playing = p.obj(bx + 700, by + 250, "spigot")
    set_id = p.obj(bx + 700, by + 280, "list prepend 32")
    p.connect(playing, 0, set_id)
    p.connect(set_id, 0, osc["generate set"])
    key = p.obj(bx + 250, by + 60, "symbol")
    key_auto = p.obj(bx + 250, by + 90, "sel auto")
    key_fmt = p.obj(bx + 300, by + 120, "makefilename key=%s")
    key_t = p.obj(bx + 300, by + 150, "t s s")
    p.connect(cmds, 2, key)
    p.connect(key, 0, key_auto)
    p.connect(key_auto, 0, chain[1], 1)  # auto: the slot empties (bang), nothing to set
    p.connect(key_auto, 1, key_fmt)
    p.connect(key_fmt, 0, key_t)
    p.connect(key_t, 1, chain[1], 1)
    p.connect(key_t, 0, playing)
    temp = p.obj(bx + 480, by + 60, "makefilename temperature=%g")
    temp_t = p.obj(bx + 480, by + 90, "t s s")
    p.connect(cmds, 3, temp)
    p.connect(temp, 0, temp_t)
    p.connect(temp_t, 1, chain[2], 1)
    p.connect(temp_t, 0, playing)
    dens_auto_q = p.obj(bx + 700, by + 60, "route auto")
    dens = p.obj(bx + 700, by + 120, "moses 0")
    dens_auto = p.msg(bx + 700, by + 90, "symbol density=auto")
    dens_fmt = p.obj(bx + 760, by + 150, "makefilename density=%d")
    dens_t = p.obj(bx + 700, by + 180, "t s s")
    p.connect(cmds, 4, dens_auto_q)
    p.connect(dens_auto_q, 0, dens_auto)
    p.connect(dens_auto_q, 1, dens)
    p.connect(dens, 0, dens_auto)
    p.connect(dens, 1, dens_fmt)
    p.connect(dens_auto, 0, dens_t)
    p.connect(dens_fmt, 0, dens_t)
    p.connect(dens_t, 1, chain[3], 1)
    p.connect(dens_t, 0, playing)
    # Call and response: call 1 arms (mode, bars), call 0 disarms.
    call = p.obj(bx + 900, by + 60, "sel 0")
    call_go = p.obj(bx + 950, by + 90, "t b")
    call_mode = p.obj(bx + 950, by + 120, "list append respond")
    call_bars = p.obj(bx + 950, by + 150, "list append 0")
    call_id = p.obj(bx + 950, by + 180, "list prepend 34")
    call_stop = p.msg(bx + 900, by + 90, "35")
    p.connect(cmds, 5, call)
    p.connect(call, 0, call_stop)
    p.connect(call, 1, call_go)
    p.connect(call_go, 0, call_mode)
    p.connect(call_mode, 0, call_bars)
    p.connect(call_bars, 0, call_id)
    p.connect(call_id, 0, osc["generate call start"])
    p.connect(call_stop, 0, osc["generate call stop"])
    mode = p.obj(bx + 1080, by + 60, "symbol")
    p.connect(cmds, 6, mode)
    p.connect(mode, 0, call_mode, 1)
    p.connect(cmds, 7, call_bars, 1)
    latency = p.obj(bx + 1080, by + 120, "list prepend 37")
    p.connect(cmds, 8, latency)
    p.connect(latency, 0, osc["latency set"])
    listen = p.msg(bx + 1080, by + 180, "33 1")
    p.connect(cmds, 9, listen)
    p.connect(listen, 0, osc["generate listen"])
    # On load, after the reply port: listen, and poll the daemon's clock once a second.
    p.connect(boot_jam, 0, listen)
    poll_on = p.msg(bx + 1180, by, "1")
    metro = p.obj(bx + 1180, by + 30, "metro 1000")
    poll = p.msg(bx + 1180, by + 60, "38")
    p.connect(boot_jam, 0, poll_on)
    p.connect(poll_on, 0, metro)
    p.connect(metro, 0, poll)
    p.connect(poll, 0, osc["tempo get"])

    # Replies: generate/start, stop, state and bar; tempo/get.
    ry = by + 400
    rgen = p.obj(bx, ry, "route generate tempo")
    p.connect(rmb, 0, rgen)
    which = p.obj(bx, ry + 30, "route bar state start stop")
    p.connect(rgen, 0, which)
    on, off = p.msg(bx + 300, ry + 90, "1"), p.msg(bx + 340, ry + 90, "0")
    for box in (on, off):
        p.connect(box, 0, playing, 1)
        p.connect(box, 0, p.obj(bx + 300 + 40 * (box == off), ry + 120, "s mb-play-set"))
    started = p.obj(bx + 300, ry + 60, "unpack f f s")
    p.connect(which, 2, started)
    p.connect(started, 0, on)
    p.connect(started, 2, p.obj(bx + 400, ry + 90, "s mb-key-show"))
    # state: the first pair is "state <value>"
    state = p.obj(bx + 150, ry + 60, "list split 1")
    state_pair = p.obj(bx + 150, ry + 90, "list split 2")
    state_trim = p.obj(bx + 150, ry + 120, "list trim")
    state_is = p.obj(bx + 150, ry + 150, "route state")
    state_on = p.obj(bx + 150, ry + 180, "route playing starting")
    p.connect(which, 1, state)
    p.connect(state, 1, state_pair)
    p.connect(state_pair, 0, state_trim)
    p.connect(state_trim, 0, state_is)
    p.connect(state_is, 0, state_on)
    p.connect(state_on, 0, on)
    p.connect(state_on, 1, on)
    p.connect(state_on, 2, off)
    # stop (the reply or a stopped state): clear what is still to be shown.
    p.connect(which, 3, off)
    blank = p.msg(bx + 380, ry + 150, "symbol -")
    cleared = p.obj(bx + 380, ry + 180, "t b b")
    p.connect(off, 0, cleared)
    # The play toggle follows the daemon.
    play_set = p.obj(bx + 1180, by + 100, "r mb-play-set")
    play_msg = p.msg(bx + 1180, by + 130, "set \\$1")
    p.connect(play_set, 0, play_msg)
    p.connect(play_msg, 0, p.obj(bx + 1180, by + 160, "s mb-play-show"))

    # bar: id, bar, start_beat, chords, roles, held
    bar = p.obj(bx, ry + 230, "unpack f f f s s f")
    p.connect(which, 0, bar)
    p.connect(bar, 3, p.obj(bx + 200, ry + 260, "s mb-next-show"))
    chords = p.obj(bx + 100, ry + 290, "symbol")
    p.connect(bar, 3, chords, 1)
    # The daemon's beat now = beat of the last tempo/get reply + elapsed * bpm / 60000.
    clock = p.obj(bx + 600, ry, "route get")
    p.connect(rgen, 1, clock)
    reply = p.obj(bx + 600, ry + 30, "unpack f f s f")
    p.connect(clock, 0, reply)
    timer = p.obj(bx + 600, ry + 90, "timer")
    beat_t = p.obj(bx + 700, ry + 60, "t f b")
    p.connect(reply, 3, beat_t)
    p.connect(beat_t, 1, timer)
    delay = p.obj(bx + 100, ry + 350, "expr ($f1 - $f2 - $f3 * $f4 / 60000) * 60000 / $f4")
    p.connect(beat_t, 0, delay, 1)
    bpm_t = p.obj(bx + 800, ry + 60, "t f f")
    beat_ms = p.obj(bx + 800, ry + 90, "expr 60000 / max($f1 \\, 1)")
    p.connect(reply, 1, bpm_t)
    p.connect(bpm_t, 1, delay, 3)
    p.connect(bpm_t, 0, beat_ms)
    default_bpm = p.msg(bx + 900, ry + 30, "120")
    p.connect(init, 0, default_bpm)
    p.connect(default_bpm, 0, bpm_t)
    start_t = p.obj(bx, ry + 320, "t f b")
    p.connect(bar, 2, start_t)
    p.connect(start_t, 1, timer, 1)
    p.connect(timer, 0, delay, 2)
    p.connect(start_t, 0, delay)
    p.connect(bar, 1, p.obj(bx + 60, ry + 260, "s mb-bar-next"))
    # Each beat's chord goes through its own [pipe], delayed to when that beat sounds.
    show_t = p.obj(bx + 100, ry + 380, "t b f")
    p.connect(delay, 0, show_t)
    p.connect(show_t, 1, p.obj(bx + 300, ry + 380, "s mb-bar-delay"))
    p.connect(show_t, 0, chords)
    codes = p.obj(bx + 100, ry + 410, "list fromsymbol")
    atoms = p.obj(bx + 100, ry + 440, "fudiparse")
    as_list = p.obj(bx + 100, ry + 470, "list")
    beats = p.obj(bx + 100, ry + 500, "unpack " + " ".join(["s"] * PD_BEATS))
    p.connect(chords, 0, codes)
    p.connect(codes, 0, atoms)
    p.connect(atoms, 0, as_list)
    p.connect(as_list, 0, beats)
    now = p.obj(bx + 100, ry + 600, "t s s")
    p.connect(now, 0, p.obj(bx + 100, ry + 630, "s mb-chord-show"))
    p.connect(now, 1, p.obj(bx + 200, ry + 630, "print midibridge-chord"))
    for k in range(PD_BEATS):
        r_delay = p.obj(bx + 100 + 90 * k, ry + 530, "r mb-bar-delay")
        at = p.obj(bx + 100 + 90 * k, ry + 560, f"expr $f1 + {k} * $f2")
        pipe = p.obj(bx + 100 + 90 * k, ry + 590, "pipe s 0")
        p.connect(r_delay, 0, at)
        p.connect(beat_ms, 0, at, 1)
        p.connect(at, 0, pipe, 1)
        p.connect(beats, k, pipe)
        p.connect(pipe, 0, now)
        clear = p.msg(bx + 100 + 90 * k, ry + 660, "clear")  # a stopped stream shows no more chords
        p.connect(cleared, 0, clear)
        p.connect(clear, 0, pipe)
    # The bar number shows when its first beat sounds.
    bar_pipe = p.obj(bx + 40, ry + 590, "pipe 0")
    p.connect(p.obj(bx + 40, ry + 560, "r mb-bar-delay"), 0, bar_pipe, 1)
    p.connect(p.obj(bx + 40, ry + 530, "r mb-bar-next"), 0, bar_pipe)
    p.connect(bar_pipe, 0, p.obj(bx + 40, ry + 630, "s mb-bar-show"))
    p.connect(cleared, 1, blank)
    p.connect(blank, 0, now)


def main() -> None:
    (HERE / "midibridge.maxpat").write_text(json.dumps(build(False), indent=1) + "\n")
    (HERE / "midibridge_device.maxpat").write_text(json.dumps(build(True), indent=1) + "\n")
    (HERE / "pd" / "midibridge.pd").write_text(build_pd())


if __name__ == "__main__":
    main()
