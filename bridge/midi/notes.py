"""Which notes are sounding, so that every note-on gets its note-off."""

from __future__ import annotations

from bridge.midi.events import NOTE_OFF, NOTE_ON


class NoteTracker:
    """Open (channel, pitch) pairs. Cheap enough for the real-time callback: one set operation per note."""

    def __init__(self) -> None:
        self.open: set[int] = set()  # channel << 7 | pitch

    def track(self, data) -> None:
        if len(data) != 3:
            return
        kind = data[0] & 0xF0
        key = ((data[0] & 0x0F) << 7) | (data[1] & 0x7F)
        if kind == NOTE_ON and data[2] > 0:
            self.open.add(key)
        elif kind == NOTE_OFF or kind == NOTE_ON:
            self.open.discard(key)

    def release_all(self) -> list[bytes]:
        """Note-offs for everything open; clears the set."""
        offs = [bytes((NOTE_OFF | (key >> 7), key & 0x7F, 0)) for key in sorted(self.open)]
        self.open.clear()
        return offs

    def __len__(self) -> int:
        return len(self.open)
