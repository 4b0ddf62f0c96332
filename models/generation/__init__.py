"""Harmony-aware generation: backbone (chords) and melody models, their data and training."""
