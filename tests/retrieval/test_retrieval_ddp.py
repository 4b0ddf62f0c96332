"""Two CPU processes under torchrun (gloo) train a few steps of a tiny config together."""

import json
import subprocess
import sys

import pytest
from conftest import TINY_MODEL

pytestmark = pytest.mark.slow


def test_torchrun_two_processes(tiny_corpus, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "models.retrieval.train", "--data", str(tiny_corpus), "--out", str(out), "--max-steps", "4",
        "--batch-size", "4", "--warmup-steps", "1", "--eval-every", "2", "--valid-size", "8", "--threads", "1",
        *TINY_MODEL,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 4
    assert (out / "model.pt").is_file() and (out / "best" / "model.pt").is_file()
    # --resume continues from the checkpoint instead of starting over.
    cmd[cmd.index("--max-steps") + 1] = "6"
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["steps"] == 6
