"""Which notes are sounding, so that every note-on gets its note-off, and no owner cuts another's note.

Two owners (a played hit and a generated stream, or two voices of a clip in unison) may hold the same
(channel, pitch). The tracker counts holds: a note-off that releases one of several holds is *not* sent
(`track` returns False), so the note keeps sounding until its last holder lets go. Every channel that ever
carried a note is remembered for All Notes Off / All Sound Off (panic).
"""

from __future__ import annotations

from bridge.midi.events import ALL_NOTES_OFF, ALL_SOUND_OFF, CONTROL, NOTE_OFF, NOTE_ON


class NoteTracker:
    """Open (channel, pitch) holds. Cheap enough for the real-time callback: one dict operation per note."""

    def __init__(self) -> None:
        self.open: dict[int, int] = {}  # channel << 7 | pitch -> holds
        self.channels_used = 0  # bit mask of channels that carried a note-on

    def track(self, data) -> bool:
        """Record one outgoing message; False when it is a note-off that must not be sent (still held)."""
        if len(data) != 3:
            return True
        kind = data[0] & 0xF0
        if kind != NOTE_ON and kind != NOTE_OFF:
            return True
        key = ((data[0] & 0x0F) << 7) | (data[1] & 0x7F)
        if kind == NOTE_ON and data[2] > 0:
            self.open[key] = self.open.get(key, 0) + 1
            self.channels_used |= 1 << (data[0] & 0x0F)
            return True
        holds = self.open.get(key, 0)
        if holds > 1:
            self.open[key] = holds - 1
            return False
        self.open.pop(key, None)
        return True

    def release_all(self) -> list[bytes]:
        """Note-offs for everything open; clears the holds."""
        offs = [bytes((NOTE_OFF | (key >> 7), key & 0x7F, 0)) for key in sorted(self.open)]
        self.open.clear()
        return offs

    def panic_messages(self) -> list[bytes]:
        """Note-offs for what is open, then All Notes Off and All Sound Off on every channel used (after a
        crash of an earlier daemon the tracker is empty: `panic_all` covers all 16 channels)."""
        out = self.release_all()
        for ch in range(16):
            if self.channels_used >> ch & 1:
                out += [bytes((CONTROL | ch, ALL_NOTES_OFF, 0)), bytes((CONTROL | ch, ALL_SOUND_OFF, 0))]
        return out

    def __len__(self) -> int:
        return len(self.open)


def panic_all() -> list[bytes]:
    """All Notes Off and All Sound Off on all 16 channels: what a restarted daemon sends for notes an earlier
    one (killed) left sounding, which it cannot know."""
    return [bytes((CONTROL | ch, cc, 0)) for ch in range(16) for cc in (ALL_NOTES_OFF, ALL_SOUND_OFF)]
