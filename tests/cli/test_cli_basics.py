import json

from click.testing import CliRunner

from bridge import __version__
from bridge.cli.main import main


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("doctor", "data", "train", "eval", "export"):
        assert name in result.output


def test_doctor_json_has_every_check():
    result = CliRunner().invoke(main, ["doctor", "--json", "--osc-port", "9"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("onnxruntime", "midi", "jack", "osc_port", "models", "library", "data_dir"):
        assert key in report
    assert "CPUExecutionProvider" in report["onnxruntime"]["providers"]
