"""Every command is documented: a command missing from the README is a command nobody finds."""

from pathlib import Path

import click

from bridge.cli.main import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _command_paths(group: click.Group, prefix: str = "midibridge"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, path)
        else:
            yield path, command


def test_every_command_has_help_text():
    for path, command in _command_paths(main):
        assert (command.help or command.short_help), f"{path} has no help text"


def test_every_command_is_in_the_readme():
    for path, _ in _command_paths(main):
        *group, name = path.split()[1:]
        # "train backbone|melody" documents several subcommands of one group in one row.
        documented = path in README or any(
            f"{' '.join(group)} " in line and name in line for line in README.splitlines() if line.startswith("|")
        )
        assert documented, f"{path} is missing from README.md"
