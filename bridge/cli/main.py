"""The `midibridge` command. Each domain module registers its own commands."""

from __future__ import annotations

import importlib
import logging

import click

from bridge import __version__
from bridge.cli.groups import data_group, eval_group, export_group, train_group

# One module per domain; each exposes COMMANDS (top-level) and/or adds to the shared groups.
DOMAIN_MODULES = (
    "bridge.cli.doctor",
    "bridge.cli.analyze_cmd",
    "bridge.cli.data_cmds",
    "bridge.cli.retrieval_cmds",
    "bridge.cli.library_cmds",
    "bridge.cli.serve_cmd",
    "bridge.cli.generate_cmds",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="midibridge")
@click.option("--log-level", default="WARNING", show_default=True, help="Logging level for CLI commands.")
def main(log_level: str) -> None:
    """midibridge: search your MIDI library by text or by playing, and generate music, from your DAW."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")


for group in (data_group, train_group, eval_group, export_group):
    main.add_command(group)

for module_name in DOMAIN_MODULES:
    module = importlib.import_module(module_name)
    for command in getattr(module, "COMMANDS", ()):
        main.add_command(command)
