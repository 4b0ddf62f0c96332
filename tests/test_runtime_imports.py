"""The runtime must never import torch: the daemon ships without it."""

import subprocess
import sys

RUNTIME_MODULES = ["bridge", "bridge.cli.main", "bridge.music", "bridge.analysis", "bridge.doctor"]


def test_importing_bridge_never_imports_torch():
    code = (
        "import importlib, pkgutil, sys\n"
        "import bridge\n"
        f"for m in {RUNTIME_MODULES!r}: importlib.import_module(m)\n"
        "for info in pkgutil.walk_packages(bridge.__path__, 'bridge.'):\n"
        "    if not info.name.endswith('__main__'): importlib.import_module(info.name)\n"
        "forbidden = ('torch', 'models', 'export', 'sentence_transformers')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in forbidden)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
