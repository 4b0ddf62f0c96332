"""The one place an onnxruntime session is made: CUDA when it really loads (the `gpu` extra), else CPU, and
no spinning threads (busy-waiting workers starve the MIDI writer and every other process on a shared machine)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def make_session(path: Path, providers: list[str] | None = None, threads: int = 0):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if providers is None:
        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    # get_available_providers() lists what was built in, not what loads: report what the session got.
    if providers[0] == "CUDAExecutionProvider" and session.get_providers()[0] != "CUDAExecutionProvider":
        log.warning("CUDAExecutionProvider did not load for %s; running on CPU", Path(path).name)
    return session
