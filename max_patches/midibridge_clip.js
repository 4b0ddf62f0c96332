// midibridge_clip.js - classic Max js (no Node): collects /midibridge/hit/note replies and writes them
// into the selected Live clip slot with live.object's add_new_notes (Live 11+). Messages:
//   note <id> <start_beats> <duration_beats> <pitch> <velocity> <channel>
//   end <id> <notes> <length_beats> <tempo> <meter>
autowatch = 1;
inlets = 1;
outlets = 1;

var pending = {};

function note(id, start, duration, pitch, velocity, channel) {
    if (!pending[id]) pending[id] = [];
    pending[id].push({pitch: pitch, start_time: start, duration: duration, velocity: velocity, mute: 0});
}

function end(id, count, length) {
    var notes = pending[id] || [];
    delete pending[id];
    var slot = new LiveAPI("live_set view highlighted_clip_slot");
    if (!slot || slot.id == 0) {
        outlet(0, "error", "no clip slot selected");
        return;
    }
    if (parseInt(slot.get("has_clip")) === 0) {
        slot.call("create_clip", Math.max(length, 1));
    }
    var clip = new LiveAPI(slot.unquotedpath + " clip");
    clip.call("remove_notes_extended", 0, 128, 0, Math.max(length, 1));
    clip.call("add_new_notes", {notes: notes});
    clip.set("loop_end", Math.max(length, 1));
    outlet(0, "wrote", notes.length);
}
