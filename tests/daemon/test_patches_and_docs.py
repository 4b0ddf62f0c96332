"""The Max and Pd patches use only addresses the daemon serves, and docs/protocol.md matches the tables.

The Max patches' Jam panel is driven by midibridge_jam.js (classic Max js, ES5): it runs here under node with
Max's `outlet` and `Task` stood in, so the requests it composes are parsed by the daemon's own table."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from daemon_harness import REPO

from bridge.daemon.protocol import PROTOCOL
from bridge.daemon.protocol_doc import generated_section, render_reference

PATCHES = REPO / "max_patches"
DOC = (REPO / "docs" / "protocol.md").read_text()
ADDRESS = re.compile(r"/midibridge(?:/[a-z_]+)+")


def max_addresses(path) -> set[str]:
    patcher = json.loads(path.read_text())["patcher"]
    texts = [b["box"].get("text", "") for b in patcher["boxes"]]
    return {m for t in texts for m in ADDRESS.findall(t)}


def js_addresses(path) -> set[str]:
    """Addresses a Max js composes: the `P + "/generate/start"` pieces, with P = "/midibridge"."""
    text = path.read_text()
    return {"/midibridge" + m for m in re.findall(r'P \+ "((?:/[a-z_]+)+)"', text)} | set(ADDRESS.findall(text))


def boxes_and_lines(path):
    patcher = json.loads(path.read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    lines = [(tuple(ln["patchline"]["source"]), tuple(ln["patchline"]["destination"])) for ln in patcher["lines"]]
    return boxes, lines


def pd_addresses(path) -> set[str]:
    found = set()
    for line in path.read_text().split(";\n"):
        m = re.match(r"#X obj \d+ \d+ oscformat (midibridge(?: [a-z_]+)+)", line)
        if m:
            found.add("/" + m.group(1).replace(" ", "/"))
    return found


@pytest.mark.parametrize("name", ["midibridge.maxpat", "midibridge_device.maxpat"])
def test_max_patch_is_valid_max_json_with_consistent_lines(name):
    patcher = json.loads((PATCHES / name).read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    classes = {b["maxclass"] for b in boxes.values()}
    assert {"newobj", "message", "textedit", "umenu"} <= classes
    texts = [b.get("text", "") for b in boxes.values()]
    assert any(t.startswith("udpsend") for t in texts) and any(t.startswith("udpreceive") for t in texts)
    assert any(t.startswith("js midibridge_clip.js") for t in texts)
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert outlet < boxes[src]["numoutlets"], (src, boxes[src].get("text"))
        assert inlet < boxes[dst]["numinlets"], (dst, boxes[dst].get("text"))
    assert (PATCHES / "midibridge_clip.js").read_text().count("add_new_notes") >= 1


def test_every_patch_address_is_served_and_documented():
    used = max_addresses(PATCHES / "midibridge.maxpat") | max_addresses(PATCHES / "midibridge_device.maxpat")
    used |= js_addresses(PATCHES / "midibridge_jam.js")
    pd = pd_addresses(PATCHES / "pd" / "midibridge.pd")
    assert "/midibridge/search/text" in used and "/midibridge/search/text" in pd
    jam = {"/midibridge/generate/start", "/midibridge/generate/stop", "/midibridge/generate/set",
           "/midibridge/generate/listen", "/midibridge/generate/call/start", "/midibridge/generate/call/stop",
           "/midibridge/latency/set"}
    assert jam <= used, jam - used
    assert jam <= pd, jam - pd
    assert "/midibridge/clock/sync" in max_addresses(PATCHES / "midibridge_device.maxpat")
    for address in used | pd:
        assert address in PROTOCOL.all_paths(), address
        assert f"`{address}`" in DOC, address


def test_protocol_doc_is_generated_from_the_tables():
    assert generated_section(DOC) == render_reference(), "run: python -m bridge.daemon.protocol_doc docs/protocol.md"
    for path in PROTOCOL.all_paths():
        assert f"`{path}`" in DOC


def test_every_example_line_is_a_valid_request():
    import shlex

    for spec in PROTOCOL.requests.values():
        types, *values = shlex.split(spec.example)
        assert len(types) == len(values), spec.path
        args = tuple(int(v) if t == "i" else float(v) if t == "f" else v for t, v in zip(types, values))
        request = spec.parse(args, ("127.0.0.1", 1))
        assert request.id == args[0]


def test_patches_are_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_patches", PATCHES / "make_patches.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    hint = "edit max_patches/make_patches.py and run: python max_patches/make_patches.py"
    assert json.loads((PATCHES / "midibridge.maxpat").read_text()) == make.build(False), hint
    assert json.loads((PATCHES / "midibridge_device.maxpat").read_text()) == make.build(True), hint
    assert (PATCHES / "pd" / "midibridge.pd").read_text() == make.build_pd(), hint


def test_pd_twin_lines_are_consistent():
    """Every connection joins objects that exist (Pd numbers objects in file order)."""
    items = [ln for ln in (PATCHES / "pd" / "midibridge.pd").read_text().split(";\n")[1:] if ln.strip()]
    objects = [ln for ln in items if not ln.startswith("#X connect")]
    for ln in items:
        if ln.startswith("#X connect"):
            a, _, b, _ = map(int, ln.split()[2:6])
            assert a < len(objects) and b < len(objects), ln
    assert any("r mb-jam" in ln for ln in objects) and any("print midibridge-chord" in ln for ln in objects)


@pytest.mark.parametrize("name", ["midibridge.maxpat", "midibridge_device.maxpat"])
def test_max_jam_panel_has_its_controls_and_feeds_the_js(name):
    boxes, lines = boxes_and_lines(PATCHES / name)
    by_text = {b.get("text", ""): bid for bid, b in boxes.items()}
    jam = by_text["js midibridge_jam.js"]
    into_js = {boxes[src]["text"] for (src, _), (dst, _) in lines if dst == jam}
    for message in ("prompt", "play", "key", "temperature", "density", "call", "callmode", "callbars", "latency",
                    "started", "state", "bar", "tempo", "stopped"):
        assert f"prepend {message}" in into_js, message
    # Replies reach the js through the search route's unmatched outlet.
    jroute = next(bid for t, bid in by_text.items() if t.startswith("route /midibridge/generate/start"))
    search_route = next(bid for t, bid in by_text.items() if t.startswith("route /midibridge/search/hit"))
    assert ((search_route, boxes[search_route]["numoutlets"] - 1), (jroute, 0)) in lines
    # The js's first outlet goes to udpsend, the second to the displays (the current chord among them).
    send = by_text["udpsend 127.0.0.1 9000"]
    assert ((jam, 0), (send, 0)) in lines
    shows = by_text["route chord bar next key playing call held"]
    assert ((jam, 1), (shows, 0)) in lines
    keys = next(b for b in boxes.values() if b["maxclass"] == "umenu" and "D-minor" in b.get("items", []))
    assert keys["items"][0] == "auto" and len([i for i in keys["items"] if i != ","]) == 25
    assert sum(b["maxclass"] == "toggle" for b in boxes.values()) >= 3  # play, call, (write to clip)
    # On load: the reply port first (right outlet of the trigger), then listen.
    boot = by_text["t b b"]
    assert ((boot, 1), (by_text["/midibridge/reply_port 1 9001"], 0)) in lines
    assert ((boot, 0), (by_text["/midibridge/generate/listen 33 1"], 0)) in lines


def test_device_sends_lives_tempo_and_position_with_clock_sync():
    boxes, lines = boxes_and_lines(PATCHES / "midibridge_device.maxpat")
    by_text = {b.get("text", ""): bid for bid, b in boxes.items()}
    transport, sync = by_text["transport"], by_text["pack 0. 0. 4"]
    assert boxes[transport]["numoutlets"] == 9
    assert ((transport, 4), (sync, 0)) in lines  # tempo, last of the outlets to fire: the hot inlet
    assert ((transport, 8), (by_text["/ 480."], 0)) in lines and ((by_text["/ 480."], 0), (sync, 1)) in lines
    assert ((by_text["expr $i1 * 4 / $i2"], 0), (sync, 2)) in lines
    assert ((by_text["metro 1n @quantize 1n @active 1"], 0), (transport, 0)) in lines  # once per bar
    gate, address = by_text["gate 1 1"], by_text["prepend /midibridge/clock/sync 36"]
    assert ((sync, 0), (gate, 1)) in lines and ((gate, 0), (address, 0)) in lines
    assert ((address, 0), (by_text["udpsend 127.0.0.1 9000"], 0)) in lines
    # Live's values are what the daemon's table takes: bpm, beat, quarter notes per bar.
    PROTOCOL.requests["/midibridge/clock/sync"].parse((36, 123.5, 96.0, 4), ("127.0.0.1", 1))
    assert "transport" not in {b.get("text") for b in json.loads(
        (PATCHES / "midibridge.maxpat").read_text())["patcher"]["boxes"] for b in [b["box"]]}


NODE_HARNESS = r"""
const vm = require("vm"), fs = require("fs");
const out = [];
const ctx = {outlet: (n, msg) => out.push([n, msg]), post: () => {}, Task: function (f) { this.repeat = () => {}; },
             Math: Math, String: String, Number: Number, now: 0};
ctx.Date = function () { return {getTime: () => ctx.now}; };
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);
for (const [fn, ...args] of JSON.parse(fs.readFileSync(0, "utf8"))) {
    if (fn === "now") { ctx.now = args[0]; continue; }
    out.push(["call", fn]);
    ctx[fn](...args);
}
console.log(JSON.stringify(out));
"""


def run_jam_js(steps: list) -> list:
    proc = subprocess.run(["node", "-e", NODE_HARNESS, str(PATCHES / "midibridge_jam.js")], input=json.dumps(steps),
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(proc.stdout)


def sent(out: list) -> list[list]:
    return [msg for n, msg in out if n == 0]


def shown(out: list, what: str) -> list:
    return [msg[1:] for n, msg in out if n == 1 and msg[0] == what]


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed (runs the panel's Max js)")
def test_jam_js_composes_valid_requests_and_shows_the_current_chord():
    out = run_jam_js([
        ["prompt", "a", "slow", "waltz", "at", 90, "bpm"], ["key", "D-minor"], ["temperature", 0.8],
        ["density", 2], ["temperature", 1.2],  # stopped: stored, not sent
        ["play", 1],
        ["started", 30, 3.0, "D minor", "3/4", 90.0, 0],
        ["state", 33, "state", "playing", "key", "D minor", "meter", "3/4", "tempo", 90.0, "call", ""],
        ["temperature", 0.5], ["key", "auto"], ["density", -1],  # playing: sent as generate/set
        ["now", 10_000], ["tempo", 38, 90.0, "internal", 2.0, 1],  # daemon beat 2 at local 10 s
        ["bar", 33, 0, 3.0, "Dm Gm A7", "bass,chords,melody", 0],
        ["bar", 33, 1, 6.0, "Bb Bb A7", "bass,chords", 1],
        ["tick", 10_300],  # beat 2.45: before the first bar line
        ["tick", 10_700],  # beat 3.05: bar 0, first beat
        ["tick", 11_400],  # beat 4.1: bar 0, second beat
        ["tick", 12_100],  # beat 5.15: bar 0, third beat
        ["tick", 12_700],  # beat 6.05: bar 1
        ["latency", 12], ["callmode", "harmonize"], ["callbars", 2], ["call", 1], ["call", 0],
        ["play", 0], ["stopped", 31, 2],
    ])
    requests = sent(out)
    for address, *args in requests:
        PROTOCOL.requests[address].parse(tuple(args), ("127.0.0.1", 1))  # raises on a bad request
    assert requests[0] == ["/midibridge/generate/start", 30, "a slow waltz at 90 bpm", "key=D-minor",
                           "temperature=1.2", "density=2"]
    assert ["/midibridge/generate/set", 32, "temperature=0.5"] in requests
    assert ["/midibridge/generate/set", 32, "density=auto"] in requests
    assert not any(r[0] == "/midibridge/generate/set" and "key" in r[2] for r in requests)  # auto: nothing to set
    assert ["/midibridge/latency/set", 37, 12] in requests
    assert ["/midibridge/generate/call/start", 34, "harmonize", 2] in requests
    assert ["/midibridge/generate/call/stop", 35] in requests
    assert requests[-1] == ["/midibridge/generate/stop", 31]
    assert [c for c in shown(out, "chord") if c != ["-"]] == [["Dm"], ["Gm"], ["A7"], ["Bb"]]
    assert shown(out, "bar")[:2] == [[0], [1]]
    assert shown(out, "next") == [["Dm", "Gm", "A7"], ["Bb", "Bb", "A7"]]
    assert shown(out, "held") == [[0], [1]]
    assert shown(out, "key")[0] == ["D", "minor"]
    assert shown(out, "playing") == [[1], [0]]
    assert shown(out, "chord")[-1] == ["-"]  # stopped: nothing sounds


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed (runs the panel's Max js)")
def test_jam_js_empty_prompt_still_sends_the_prompt_slot_first():
    requests = sent(run_jam_js([["prompt", "bang"], ["key", "F#", "major"], ["play", 1]]))
    assert requests == [["/midibridge/generate/start", 30, "", "key=F#-major"]]
    PROTOCOL.requests["/midibridge/generate/start"].parse(tuple(requests[0][1:]), ("127.0.0.1", 1))
