"""Renders the address reference of docs/protocol.md from the protocol tables.

`python -m bridge.daemon.protocol_doc docs/protocol.md` rewrites the generated section in place;
a test fails when the file and the tables disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bridge.daemon.protocol import PROTOCOL, Arg

BEGIN = "<!-- BEGIN GENERATED: python -m bridge.daemon.protocol_doc docs/protocol.md -->"
END = "<!-- END GENERATED -->"


def _arg_line(a: Arg) -> str:
    rng = ""
    if a.choices:
        rng = " one of " + ", ".join(f"`{c}`" for c in a.choices)
    elif a.lo is not None and a.hi is not None:
        lo, hi = (int(a.lo), int(a.hi)) if a.tag == "i" else (a.lo, a.hi)
        rng = f" {lo}..{hi}"
    opt = f" (optional, default `{a.default}`)" if a.optional else ""
    return f"| `{a.name}` | `{a.tag}` |{rng}{opt} | {a.doc} |"


def render_reference() -> str:
    out = ["## Requests", ""]
    for spec in PROTOCOL.requests.values():
        out += [f"### `{spec.path}`", "", spec.doc, "", f"Arguments: `{spec.signature()}`", ""]
        out += ["| argument | type | range | meaning |", "|---|---|---|---|"]
        out += [_arg_line(a) for a in spec.all_args]
        if spec.rest:
            out.append(_arg_line(spec.rest).replace(f"`{spec.rest.name}`", f"`{spec.rest.name}` ...", 1))
        out += ["", "Replies: " + ", ".join(f"`{r}`" for r in spec.replies) + "; on failure `/midibridge/error`.", ""]
        out += ["```bash", f"oscsend localhost 9000 {spec.path} {spec.example}", "```", ""]
    out += ["## Replies", "", "| address | arguments | when |", "|---|---|---|"]
    for r in PROTOCOL.replies.values():
        out.append(f"| `{r.path}` | {r.signature} | {r.doc} |")
    return "\n".join(out) + "\n"


def update(path: Path) -> bool:
    text = path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{render_reference()}{END}{tail}"
    if new != text:
        path.write_text(new)
        return True
    return False


def generated_section(text: str) -> str:
    return text.partition(BEGIN)[2].partition(END)[0].lstrip("\n")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/protocol.md")
    sys.stderr.write(f"{target}: {'updated' if update(target) else 'up to date'}\n")
