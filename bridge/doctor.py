"""Health checks of the machine midibridge runs on. Each check returns a plain dict."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

from bridge import __version__, paths

DEFAULT_OSC_PORT = 9000


def check_onnxruntime() -> dict:
    try:
        import onnxruntime as ort
    except ImportError as e:
        return {"ok": False, "error": str(e)}
    return {"ok": True, "version": ort.__version__, "providers": ort.get_available_providers()}


def check_midi_apis() -> dict:
    """Which APIs python-rtmidi was built with, and which can actually open a port here."""
    try:
        import rtmidi
    except ImportError as e:
        return {"ok": False, "error": str(e), "apis": []}
    apis = []
    for api in rtmidi.get_compiled_api():
        name = rtmidi.get_api_name(api)
        entry = {"api": name, "display_name": rtmidi.get_api_display_name(api), "works": False}
        if api == rtmidi.API_UNIX_JACK and not jack_server_running()["running"]:
            entry["error"] = "no JACK server running"
        elif api == rtmidi.API_RTMIDI_DUMMY:
            entry["error"] = "dummy API"
        else:
            try:
                port = rtmidi.MidiOut(rtapi=api, name="midibridge-doctor")
                entry["ports"] = port.get_ports()
                entry["works"] = True
                port.delete()
            except Exception as e:  # rtmidi raises SystemError/RuntimeError per backend
                entry["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        apis.append(entry)
    return {"ok": any(a["works"] for a in apis), "apis": apis}


def jack_server_running() -> dict:
    """Ask jack_lsp rather than open a client: JACK-Client may try to autostart a server."""
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    exe = shutil.which("jack_lsp")
    if not exe:
        return {"running": False, "server": server, "error": "jack_lsp not installed (apt install jackd2)"}
    env = dict(os.environ, JACK_NO_START_SERVER="1")
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=3, env=env)
    except subprocess.TimeoutExpired:
        return {"running": False, "server": server, "error": "jack_lsp timed out"}
    running = out.returncode == 0
    return {"running": running, "server": server, "ports": out.stdout.split() if running else []}


def check_port_free(host: str = "127.0.0.1", port: int = DEFAULT_OSC_PORT) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            return {"host": host, "port": port, "free": False, "error": e.strerror}
    return {"host": host, "port": port, "free": True}


def check_models() -> dict:
    root = paths.models_dir()
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*.onnx")) if root.exists() else []
    return {"dir": str(root), "found": found, "ok": bool(found)}


def check_library() -> dict:
    db = paths.default_db_path()
    bundled = paths.bundled_library_dir()
    return {
        "db": str(db),
        "db_exists": db.exists(),
        "bundled_library": str(bundled),
        "bundled_files": len(list(bundled.rglob("*.mid"))) if bundled.exists() else 0,
    }


def check_torch_absent() -> dict:
    return {"torch_imported": "torch" in sys.modules}


def run_all(osc_port: int = DEFAULT_OSC_PORT, host: str = "127.0.0.1") -> dict:
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "onnxruntime": check_onnxruntime(),
        "midi": check_midi_apis(),
        "jack": jack_server_running(),
        "osc_port": check_port_free(host, osc_port),
        "models": check_models(),
        "library": check_library(),
        "data_dir": str(paths.data_dir()),
        "runtime": check_torch_absent(),
    }
