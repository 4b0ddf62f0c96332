"""midibridge runtime: the daemon, MIDI/OSC I/O, music analysis, search and ONNX inference.

Nothing under ``bridge`` imports torch; training code lives in ``models`` and ``export``.
"""

__version__ = "0.1.0"
