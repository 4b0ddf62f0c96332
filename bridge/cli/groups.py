"""Command groups that several domains add subcommands to."""

import click


@click.group("data")
def data_group():
    """Build, load and inspect training corpora."""


@click.group("train")
def train_group():
    """Train a model (needs the `train` extra)."""


@click.group("eval")
def eval_group():
    """Evaluate a model and print its metrics."""


@click.group("export")
def export_group():
    """Export a trained model to ONNX (needs the `train` extra)."""
