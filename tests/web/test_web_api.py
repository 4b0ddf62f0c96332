"""The web page's JSON API against a real daemon subprocess, with an HTTP client (httpx)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from daemon_harness import CHORALE, OscClient, start_daemon
from web_helpers import note_tuples, wav_rms

from bridge.music import load_midi
from bridge.music.midi_file import load_midi_bytes
from bridge.web.clips import OutsideLibrary, inside_roots


def search(api, text: str, **fields) -> dict:
    r = api.post("/api/search", json={"text": text, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def first_hit(api, text: str, **fields) -> dict:
    result = search(api, text, **fields)
    assert result["hits"], result
    return result["hits"][0]


def clip_of(hit: dict):
    q0, q1 = hit["quarters"]
    return load_midi(hit["file"]).window(q0, q1)


def raw_get(base_url: str, target: str, host: str | None = None) -> tuple[int, bytes]:
    """A request line sent as is (an HTTP client would normalise the dot segments away)."""
    u = urlsplit(base_url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host or u.netloc}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# ---- the page ------------------------------------------------------------------------------------------------


def test_the_page_and_its_assets_are_served_with_a_strict_policy(api):
    r = api.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'id="q"' in r.text and "/static/app.js" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        r = api.get(asset)
        assert r.status_code == 200 and kind in r.headers["content-type"], asset
    assert "cdn" not in api.get("/").text.lower()  # everything is served by the daemon itself


def test_status_names_the_library_audio_and_its_own_url(api, base_url):
    s = api.get("/api/status").json()
    assert s["url"].rstrip("/") == base_url
    assert s["library"]["state"] == "ready" and s["library"]["windows"] >= 3
    assert s["audio"]["available"], s["audio"]["problem"]
    generate = api.get("/api/generate").json()
    assert generate["available"] == s["generate"]["available"]
    if not generate["available"]:  # a daemon without live generation says what is coming
        assert generate["message"] == "coming with live generation"
        r = api.post("/api/generate/start", json={"prompt": "a waltz"})
        assert r.status_code == 501 and "coming with live generation" in r.json()["error"]
    else:
        assert "state" in generate, generate


def test_an_unknown_endpoint_is_a_json_404(api):
    r = api.get("/api/nothing/here")
    assert r.status_code == 404 and "no such endpoint" in r.json()["error"]


# ---- search --------------------------------------------------------------------------------------------------


def test_text_search_returns_hits_with_matched_and_missed_constraints(api):
    result = search(api, "a waltz in A minor", k=3)
    assert result["count"] == 3 and result["search_id"] >= 1
    best, other = result["hits"][0], result["hits"][1]
    assert best["name"] == "waltz_a_minor.mid"
    assert best["key"] == "A minor" and best["meter"] == "3/4" and best["tempo"] == 72.0
    assert "key A minor" in best["matched"] and "meter 3/4" in best["matched"]
    assert other["missed"], other
    assert best["instruments"] == ["Acoustic Grand Piano"]
    assert best["download_name"] == f"waltz_a_minor_bars-{best['bars'][0]}-{best['bars'][1]}.mid"
    sid = result["search_id"]
    assert best["urls"]["notes"] == f"/api/hits/{sid}/0/notes"
    assert api.get(f"/api/hits/{sid}/0").json()["file"] == best["file"]


def test_filters_narrow_the_search(api):
    only_waltz = search(api, "anything", meter="3/4", k=5)
    assert [h["name"] for h in only_waltz["hits"]] == ["waltz_a_minor.mid"]
    fast = search(api, "", tempo=[130, 150], k=5)
    assert [h["name"] for h in fast["hits"]] == ["fast_c_major_scale.mid"]
    assert search(api, "", tempo="130-150")["hits"][0]["name"] == "fast_c_major_scale.mid"
    minor = search(api, "music", mode="minor", k=5)
    assert {h["key"].split()[-1] for h in minor["hits"]} == {"minor"}


@pytest.mark.parametrize(("body", "message"), [
    ({"text": "x", "tempo": "fast"}, "tempo must be lo-hi"),
    ({"text": "x", "mode": "dorian"}, "mode must be one of major, minor"),
    ({"text": "x", "meter": "three"}, "meter must look like 3/4"),
    ({"text": "x", "k": 0}, "k must be an int in 1..100"),
    ({"text": "x", "colour": "blue"}, "unknown field 'colour'"),
    ({"text": ""}, "text must be a non-empty string"),
    ({"text": 5}, "text must be a string"),
])
def test_bad_search_input_is_one_clear_line(api, body, message):
    r = api.post("/api/search", json=body)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_a_body_that_is_not_a_json_object_is_refused(api):
    r = api.post("/api/search", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = api.post("/api/search", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_search_by_example_parses_the_upload_in_the_worker(api):
    data = CHORALE.read_bytes()
    r = api.post("/api/search/example?k=2", content=data, headers={"content-type": "audio/midi"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["hits"][0]["name"] == "chorale.mid" and result["count"] == 2
    assert result["query"]["example"]["bytes"] == len(data)
    r = api.post("/api/search/example?meter=3/4", content=data, headers={"content-type": "audio/midi"})
    assert [h["name"] for h in r.json()["hits"]] == ["waltz_a_minor.mid"]


def test_uploads_are_size_limited_and_must_be_midi(api):
    limit = api.get("/api/status").json()["limits"]["upload_bytes"]
    r = api.post("/api/search/example", content=b"MThd" + b"\0" * limit, headers={"content-type": "audio/midi"})
    assert r.status_code == 413 and f"at most {limit}" in r.json()["error"]

    def chunks():  # no Content-Length: the limit holds on the bytes actually sent
        yield b"MThd"
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536

    r = api.post("/api/search/example", content=chunks(), headers={"content-type": "audio/midi"})
    assert r.status_code == 413
    r = api.post("/api/search/example", content=b"hello", headers={"content-type": "audio/midi"})
    assert r.status_code == 400 and "not a MIDI file" in r.json()["error"]
    r = api.post("/api/search/example", content=b"MThd\0\0\0\6garbage", headers={"content-type": "audio/midi"})
    assert r.status_code == 400 and r.json()["error"]
    r = api.post("/api/search/example", content=CHORALE.read_bytes(), headers={"content-type": "text/plain"})
    assert r.status_code == 403


def test_search_by_the_last_phrase_needs_a_phrase(api):
    r = api.post("/api/search/phrase", json={"k": 3})
    assert r.status_code == 409 and "no captured phrase yet" in r.json()["error"]


# ---- a hit: notes, MIDI, audio ---------------------------------------------------------------------------------


def test_notes_are_the_clip_with_tracks_bars_tempo_and_meter(api):
    hit = first_hit(api, "waltz", meter="3/4")
    data = api.get(hit["urls"]["notes"]).json()
    clip = clip_of(hit)
    n = data["notes"]
    assert data["count"] == len(clip.notes) == 48
    assert n["pitch"] == [int(p) for p in clip.notes.pitch]
    assert n["start"][:3] == [0.0, 0.5, 1.0]
    assert data["meter"] == "3/4" and data["tempo"] == 72.0
    assert data["length_quarters"] == 24.0 and data["bar_starts"][:3] == [0.0, 3.0, 6.0]
    assert data["tracks"][0]["instrument"] == "Acoustic Grand Piano" and data["tracks"][0]["notes"] == 48


def test_the_download_is_the_clip_under_a_proper_file_name(api):
    hit = first_hit(api, "chorale in F sharp minor")
    r = api.get(hit["urls"]["midi"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/midi"
    assert r.headers["content-disposition"] == f'attachment; filename="{hit["download_name"]}"'
    assert r.content.startswith(b"MThd")
    got, clip = load_midi_bytes(r.content), clip_of(hit)
    assert note_tuples(got) == note_tuples(clip)
    assert sorted(set(int(p) for p in got.notes.program)) == sorted(set(int(p) for p in clip.notes.program))
    assert got.tempo_at(0) == pytest.approx(clip.tempo_at(0), abs=0.01)


def test_audio_is_rendered_once_not_silent_and_then_cached(api, web_daemon):
    hit = first_hit(api, "fast scale in C major")
    before = api.get("/api/status").json()["audio"]
    r = api.get(hit["urls"]["wav"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    rms, seconds = wav_rms(r.content)
    assert rms > 0.003, f"the preview is silent (RMS {rms:.5f})"
    assert seconds >= hit["seconds"][1] - hit["seconds"][0] - 0.05
    again = api.get(hit["urls"]["wav"])
    assert again.content == r.content
    after = api.get("/api/status").json()["audio"]
    assert after["renders"] == before["renders"] + 1 and after["cache_hits"] == before["cache_hits"] + 1
    cache = Path(web_daemon.env["MIDIBRIDGE_HOME"]) / "previews"
    assert len(list(cache.glob("*.wav"))) >= 1
    part = api.get(hit["urls"]["wav"], headers={"range": "bytes=0-99"})  # what <audio> asks for
    assert part.status_code == 206 and part.content == r.content[:100]
    ogg = api.get(hit["urls"]["ogg"])
    assert ogg.status_code == 200 and ogg.headers["content-type"] == "audio/ogg" and ogg.content[:4] == b"OggS"
    assert api.get(hit["urls"]["wav"].replace(".wav", ".mp3")).status_code == 404


def test_unknown_searches_and_ranks_are_404(api):
    r = api.get("/api/hits/999999/0/notes")
    assert r.status_code == 404 and "no search 999999" in r.json()["error"]
    sid = search(api, "waltz", k=1)["search_id"]
    r = api.get(f"/api/hits/{sid}/5/clip.mid")
    assert r.status_code == 404 and "rank must be an int in 0..0" in r.json()["error"]
    assert api.get("/api/hits/x/0/notes").status_code == 404


# ---- play into the DAW ----------------------------------------------------------------------------------------


def test_play_checks_its_input(api):
    hit = first_hit(api, "waltz")
    r = api.post(hit["urls"]["play"], json={"at": "tomorrow"})
    assert r.status_code == 400 and "at must be one of bar, beat, now" in r.json()["error"]


def test_play_into_the_daw_reaches_a_jack_input(api, jack, osc):
    if jack is None:
        pytest.skip("jackd not installed (apt install jackd2)")
    from daemon_harness import Recorder, assert_complete, wait_for_events

    from bridge.midi.events import is_note_on, piece_events

    hit = first_hit(api, "fast scale in C major")
    expected = [e.data[1] for e in piece_events(clip_of(hit)) if is_note_on(e.data)]
    recorder = Recorder(jack.name, "rec-web-api")
    try:
        recorder.connect_from("midibridge:out")
        x0 = osc.status()["xruns"]
        osc.request("/midibridge/tempo/set", 31, 300.0, reply="/midibridge/tempo/get")
        r = api.post(hit["urls"]["play"], json={"at": "beat"})
        assert r.status_code == 200, r.text
        assert r.json()["notes"] == len(expected)
        wait_for_events(recorder, 2 * len(expected), 30)
        assert_complete(recorder, expected, osc.status()["xruns"] - x0)
    finally:
        recorder.close()
    assert api.post("/api/play/stop", json={}).status_code == 200


# ---- security ------------------------------------------------------------------------------------------------


def test_a_foreign_host_is_refused_dns_rebinding(api, base_url):
    port = urlsplit(base_url).port
    for host in (f"evil.example:{port}", "127.0.0.1:1", f"127.0.0.1.nip.io:{port}", ""):
        r = api.get("/api/status", headers={"host": host})
        assert r.status_code == 403 and "is not this daemon's" in r.json()["error"], host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert api.get("/api/status", headers={"host": host}).status_code == 200


def test_a_foreign_origin_is_refused_cross_site_post(api, base_url):
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1", base_url.replace("http:", "https:")):
        r = api.post("/api/search", json={"text": "waltz"}, headers={"origin": origin})
        assert r.status_code == 403 and "Origin" in r.json()["error"], origin
        r = api.get("/api/status", headers={"origin": origin})
        assert r.status_code == 403, origin
    assert api.post("/api/search", json={"text": "waltz"}, headers={"origin": base_url}).status_code == 200


def test_cross_site_fetches_and_simple_form_posts_are_refused(api):
    hit = first_hit(api, "waltz")
    for site in ("cross-site", "same-site"):
        r = api.get(hit["urls"]["wav"], headers={"sec-fetch-site": site, "sec-fetch-mode": "no-cors"})
        assert r.status_code == 403 and site in r.json()["error"]
    # a form on a foreign page can POST text/plain or form data without a preflight: never accepted
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = api.post(hit["urls"]["play"], content=b'{"at": "now"}', headers={"content-type": ctype})
        assert r.status_code == 403 and "Content-Type" in r.json()["error"], ctype
    assert api.request("DELETE", "/api/status").status_code == 403
    r = api.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
    assert r.status_code == 200  # following a link to the page itself does nothing


def test_path_traversal_is_refused(base_url):
    for target in ("/static/../../../../../../etc/passwd", "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
                   "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/../api.py", "/static/../../daemon/app.py",
                   "/api/hits/..%2f..%2fetc%2fpasswd/0/notes", "/../../etc/passwd"):
        status, body = raw_get(base_url, target)
        assert status in (400, 403, 404), (target, status)
        assert b"root:" not in body and b"import" not in body, target
    status, _ = raw_get(base_url, "/static/app.js")
    assert status == 200


def test_a_library_file_that_now_points_outside_is_never_read(api, tmp_path):
    hit = first_hit(api, "waltz", meter="3/4")
    path = Path(hit["file"])
    original = path.read_bytes()
    outside = tmp_path / "outside.mid"
    outside.write_bytes(CHORALE.read_bytes())
    try:
        path.unlink()
        path.symlink_to(outside)  # a symlink swapped in after indexing: its real path is outside the library
        for url in (hit["urls"]["notes"], hit["urls"]["midi"], hit["urls"]["wav"]):
            r = api.get(url)
            assert r.status_code == 403 and "not inside the indexed folders" in r.json()["error"], url
        r = api.post(hit["urls"]["play"], json={"at": "now"})
        assert r.status_code == 403
    finally:
        path.unlink()
        path.write_bytes(original)
    assert api.get(hit["urls"]["notes"]).status_code == 200


def test_inside_roots_resolves_real_paths(tmp_path):
    root = tmp_path / "lib"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.mid").write_bytes(b"MThd")
    (tmp_path / "secret.mid").write_bytes(b"MThd")
    (root / "link.mid").symlink_to(tmp_path / "secret.mid")
    assert inside_roots(root / "sub" / "a.mid", [root]) == (root / "sub" / "a.mid").resolve()
    for bad in (root / "link.mid", root / ".." / "secret.mid", Path("/etc/passwd")):
        with pytest.raises(OutsideLibrary):
            inside_roots(bad, [root])
    with pytest.raises(OutsideLibrary, match="no indexed folders"):
        inside_roots(root / "sub" / "a.mid", [])
    sibling = tmp_path / "lib-other"
    sibling.mkdir()
    (sibling / "b.mid").write_bytes(b"MThd")
    with pytest.raises(OutsideLibrary):  # a prefix of the name is not a parent folder
        inside_roots(sibling / "b.mid", [root])


# ---- library panel ---------------------------------------------------------------------------------------------


def test_library_stats_histograms_and_the_reindex_state(api):
    data = api.get("/api/library").json()
    s = data["stats"]
    assert s["files"] == 3 and s["windows"] >= 3 and s["skipped"] == 0
    assert s["keys"] == {"F# minor": 1, "C major": 1, "A minor": 1}
    assert s["meters"] == {"4/4": 2, "3/4": 1}
    assert sum(s["window_tempo_bpm"].values()) == s["windows"]
    assert "Acoustic Grand Piano" in s["instruments"]
    assert data["issues"] == []
    index = data["index"]
    if not index["available"]:
        assert "/midibridge/library/index" in index["problem"]
        r = api.post("/api/library/index", json={})
        assert r.status_code == 501 and r.json()["error"] == index["problem"]


def test_reindex_runs_in_the_daemon_with_progress(api):
    if not api.get("/api/library").json()["index"]["available"]:
        pytest.skip("this daemon cannot re-index (no SearchService.index)")
    r = api.post("/api/library/index", json={})
    assert r.status_code == 202 and r.json()["running"] is True
    deadline = time.monotonic() + 120
    state = r.json()
    while state["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
        state = api.get("/api/library/index").json()
    assert not state["running"] and not state["error"], state
    report = state["report"]
    assert report["files_seen"] == 3 and report["added"] == 0 and report["removed"] == 0
    assert state["stage"] == "done"
    assert api.post("/api/search", json={"text": "waltz"}).status_code == 200  # searches go on


# ---- serve flags -----------------------------------------------------------------------------------------------


def test_no_web_serves_osc_only(tmp_path):
    d = start_daemon(tmp_path, None, "--midi-api", "none", "--no-web")
    try:
        client = OscClient(d.port)
        assert "web_url" not in client.status()
        client.close()
    finally:
        d.stop()
    assert "web page on" not in d.log()


def test_a_busy_web_port_is_reported_and_osc_goes_on(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        d = start_daemon(tmp_path, None, "--midi-api", "none", "--web-port", str(port))
        try:
            client = OscClient(d.port)
            status = client.status()
            client.close()
            assert "web_url" not in status
        finally:
            d.stop()
    assert f"no web page: cannot listen on 127.0.0.1:{port}" in d.log()


def test_the_url_is_logged_and_loopback_is_the_default(web_daemon, base_url):
    assert f"web page on {base_url}/" in web_daemon.log()
    assert urlsplit(base_url).hostname == "127.0.0.1"


# ---- generate panel --------------------------------------------------------------------------------------------


def test_generate_starts_and_stops_a_stream_when_the_daemon_has_live_generation(api, jack, osc):
    info = api.get("/api/generate").json()
    if not info["available"]:
        pytest.skip("this daemon has no live generation (the panel says 'coming with live generation')")
    if jack is None:
        pytest.skip("jackd not installed: a stream needs MIDI output")
    r = api.post("/api/generate/start", json={"prompt": 5})
    assert r.status_code == 400 and "prompt must be a string" in r.json()["error"]
    r = api.post("/api/generate/start", json={"prompt": "a slow waltz in D minor", "controls": ["temperature=0.8"]})
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["start_beat"] >= 0 and started["state"]["state"] in ("starting", "playing")
    assert started["state"]["key"] == "D minor" and started["state"]["meter"] == "3/4"
    r = api.post("/api/generate/stop", json={})
    assert r.status_code == 200 and r.json()["state"]["state"] == "stopped"
    api.post("/api/play/stop", json={})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (osc.status()["sounding"] or osc.status()["pending"]):
        time.sleep(0.05)
    osc.request("/midibridge/tempo/set", 51, 120.0, reply="/midibridge/tempo/get")
