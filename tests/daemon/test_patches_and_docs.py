"""The Max and Pd patches use only addresses the daemon serves, and docs/protocol.md matches the tables."""

from __future__ import annotations

import json
import re

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
    pd = pd_addresses(PATCHES / "pd" / "midibridge.pd")
    assert "/midibridge/search/text" in used and "/midibridge/search/text" in pd
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
