"""The midibridge daemon: OSC in front, MIDI ports and the library behind."""
