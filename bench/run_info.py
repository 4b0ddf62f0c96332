"""What every bench prints first and keeps in its --json: the machine, its load and the command line, so a
figure can be read beside the conditions it was measured in (a shared 2-core machine moves latencies)."""

from __future__ import annotations

import os
import platform
import sys


def run_info() -> dict:
    return {
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "argv": list(sys.argv),
    }


def announce() -> dict:
    """`run_info()`, also printed as one line on stderr (stdout stays for the report)."""
    info = run_info()
    print(f"machine {info['machine']}, {info['cpu_count']} cores, load {info['load_avg']}; {' '.join(info['argv'])}",
          file=sys.stderr)  # fmt: skip
    return info
