"""Text<->MIDI retrieval dual encoder. Submodules import torch only where they need it (see evaluate.py)."""
