// midibridge_jam.js - classic Max js (no Node): the brain of the Jam panel of midibridge.maxpat and of the
// Max for Live device. It keeps the panel's controls, composes the OSC requests of the jam
// (docs/protocol.md, "Jam") and shows what the daemon streams back, the current chord included.
//
// Inlet messages from the panel:
//   prompt <words...>            what to play (sent with the next start)
//   play 1 | play 0              start a stream (prompt + controls) at the next bar line | stop it now
//   key auto | key <Tonic-mode>  e.g. D-minor, F#-major (auto: the prompt or the model decides)
//   temperature <0..2>           density <0..3> | density -1 (auto)
//   call 1 | call 0              arm | disarm call and response;  callmode respond | callmode harmonize
//   callbars <0..32>             length of a call in bars (0: until a silence ends the phrase)
//   latency <0..500>             output latency compensation in ms
// Inlet messages from the daemon (the replies of [udpreceive], address stripped by [route]):
//   started <id> <start_beat> <key> <meter> <tempo> <bars>     (/midibridge/generate/start)
//   state <id> <key> <value> ...                               (/midibridge/generate/state)
//   bar <id> <bar> <start_beat> <chords> <roles> <held>        (/midibridge/generate/bar)
//   tempo <id> <bpm> <source> <beat> <running>                 (/midibridge/tempo/get)
//   stopped <id> <bars_played>                                 (/midibridge/generate/stop)
// Outlet 0: OSC messages for [udpsend] (address first). Outlet 1: what to show:
//   chord <symbol> | bar <n> | next <chords...> | key <words...> | playing 0|1 | call 0|1 | held 0|1
autowatch = 1;
inlets = 1;
outlets = 2;

var P = "/midibridge";
var ID = {start: 30, stop: 31, set: 32, listen: 33, call_start: 34, call_stop: 35, latency: 37, tempo: 38};

var controls = {prompt: "", key: "", temperature: "", density: ""};
var call_mode = "respond";
var call_bars = 0;
var playing = 0;
var upcoming = [];      // {index, start, chords[]} of committed bars, oldest first
var clock = null;       // {beat, ms, bpm}: the daemon's beat at a local time (from /midibridge/tempo/get)
var shown = {chord: null, bar: null};

function now_ms() {
    return new Date().getTime();
}

function words(args) {
    var out = [];
    for (var i = 0; i < args.length; i++) out.push(String(args[i]));
    return out.join(" ");
}

function control_list() {
    var out = [];
    if (controls.key) out.push(controls.key);
    if (controls.temperature) out.push(controls.temperature);
    if (controls.density) out.push(controls.density);
    return out;
}

function send_set(item) {
    if (playing && item) outlet(0, [P + "/generate/set", ID.set, item]);
}

// ------------------------------------------------------------------ the panel

function prompt() {
    var text = words(arguments);
    controls.prompt = text === "bang" ? "" : text;  // an empty text box sends a bang through [prepend]
}

function play(on) {
    if (on) {
        // The prompt is one string (numbers in it stay words); controls follow as name=value strings.
        outlet(0, [P + "/generate/start", ID.start, controls.prompt].concat(control_list()));
    } else {
        outlet(0, [P + "/generate/stop", ID.stop]);
    }
}

function key(value) {
    var v = words(arguments).replace(/ /g, "-");
    controls.key = (v === "" || v === "auto") ? "" : "key=" + v;
    send_set(controls.key);
}

function temperature(value) {
    var t = Math.max(0, Math.min(2, Number(value)));
    controls.temperature = "temperature=" + (Math.round(t * 100) / 100);
    send_set(controls.temperature);
}

function density(value) {
    var d = Math.round(Number(value));
    controls.density = d < 0 ? "density=auto" : "density=" + Math.min(3, d);
    send_set(controls.density);
}

function call(on) {
    if (on) outlet(0, [P + "/generate/call/start", ID.call_start, call_mode, call_bars]);
    else outlet(0, [P + "/generate/call/stop", ID.call_stop]);
}

function callmode(mode) {
    call_mode = mode === "harmonize" ? "harmonize" : "respond";
}

function callbars(n) {
    call_bars = Math.max(0, Math.min(32, Math.round(Number(n))));
}

function latency(ms) {
    outlet(0, [P + "/latency/set", ID.latency, Math.max(0, Math.min(500, Number(ms)))]);
}

function listen() {
    outlet(0, [P + "/generate/listen", ID.listen, 1]);
}

function poll() {
    outlet(0, [P + "/tempo/get", ID.tempo]);
}

// ------------------------------------------------------------------ the daemon

function set_playing(on) {
    if (on === playing) return;
    playing = on;
    outlet(1, ["playing", on]);
    if (!on) {
        upcoming = [];
        show("chord", "-");
        show("bar", -1);
    }
}

function started(id, start_beat, key_name, meter, bpm) {
    outlet(1, ["key"].concat(String(key_name).split(" ")));
    set_playing(1);
}

function stopped(id, bars_played) {
    set_playing(0);
}

function state(id) {
    for (var i = 1; i + 1 < arguments.length; i += 2) {
        var name = String(arguments[i]), value = arguments[i + 1];
        if (name === "state") set_playing(value === "playing" || value === "starting" ? 1 : 0);
        else if (name === "key") outlet(1, ["key"].concat(String(value).split(" ")));
        else if (name === "call") outlet(1, ["call", value === "" ? 0 : 1]);
        else if (name === "tempo" && clock) clock = rebase(clock, now_ms(), Number(value));
    }
}

function bar(id, index, start_beat, chords, roles, held) {
    var list = String(chords).split(" ");
    upcoming.push({index: index, start: Number(start_beat), chords: list});
    while (upcoming.length > 8) upcoming.shift();
    outlet(1, ["next"].concat(list));
    outlet(1, ["held", held ? 1 : 0]);
}

function tempo(id, bpm, source, beat, running) {
    clock = {beat: Number(beat), ms: now_ms(), bpm: Number(bpm)};
}

function rebase(c, ms, bpm) {
    return {beat: beat_at(c, ms), ms: ms, bpm: bpm};
}

function beat_at(c, ms) {
    return c.beat + (ms - c.ms) * c.bpm / 60000.0;
}

// What sounds now: the chord of the beat the daemon's clock is on, in the latest bar that has begun.
function current(ms) {
    if (!clock || !upcoming.length) return null;
    var beat = beat_at(clock, ms);
    for (var i = upcoming.length - 1; i >= 0; i--) {
        var b = upcoming[i];
        if (beat >= b.start - 1e-6) {
            var k = Math.floor(beat - b.start);
            if (k >= b.chords.length) return i === upcoming.length - 1 ? {bar: b.index, chord: "-"} : null;
            return {bar: b.index, chord: b.chords[k]};
        }
    }
    return null;
}

function show(what, value) {
    if (shown[what] === value) return;
    shown[what] = value;
    outlet(1, [what, value]);
}

function tick(ms) {
    var now = current(typeof ms === "number" ? ms : now_ms());
    if (now) {
        show("bar", now.bar);
        show("chord", now.chord);
    }
}

var task = new Task(tick, this);
task.interval = 25;
task.repeat();
