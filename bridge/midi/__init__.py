"""MIDI in and out: ports, the beat clock, the scheduler that owns all output, phrase capture."""
