"""The page in a real browser: Playwright for Python driving Debian's Chromium (never a downloaded browser).

Search, piano roll, audio, download, play into the DAW (received by a JACK recorder), search by example and
the library panel, with screenshots as test artefacts. MIDIBRIDGE_WEB_SCREENSHOT=PATH also saves the search
screenshot there (docs/web.png is made that way).
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from daemon_harness import CHORALE, Recorder, assert_complete, wait_for_events

from bridge.midi.events import is_note_on, piece_events
from bridge.music import load_midi

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra (pip install -e '.[dev]')")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from web_helpers import note_tuples, wav_rms  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    folder = os.environ.get("MIDIBRIDGE_TEST_ARTEFACTS")
    path = Path(folder) / "web" if folder else tmp_path_factory.mktemp("web-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.problems = problems
    yield page
    context.close()


def search(page, text: str) -> None:
    page.fill("#q", text)
    page.click("#search-button")
    page.wait_for_selector("#hits .hit")


def hit_json(page, base_url: str, rank: int = 0) -> dict:
    hit_id = page.locator("#hits .hit").nth(rank).get_attribute("data-id")
    return page.evaluate("async (u) => (await fetch(u)).json()", f"{base_url}/api/hits/{hit_id}")


def test_search_look_listen_and_download(page, base_url, artefacts, tmp_path):
    search(page, "a waltz in A minor")
    hits = page.locator("#hits .hit")
    assert hits.count() == 3
    first = hits.nth(0)
    assert first.locator(".name").inner_text() == "waltz_a_minor.mid"
    assert first.locator(".key").inner_text() == "A minor"
    assert first.locator(".meter").inner_text() == "3/4"
    matched = first.locator(".chip.matched").all_inner_texts()
    assert any("key A minor" in m for m in matched) and any("meter 3/4" in m for m in matched)
    assert hits.nth(1).locator(".chip.missed").count() >= 1
    hit = hit_json(page, base_url)

    # piano roll: drawn from the notes endpoint, one colour per track
    first.locator(".roll-button").click()
    page.wait_for_selector("#hits .hit >> nth=0 >> .roll[data-drawn='1']")
    assert first.locator(".roll").get_attribute("data-notes") == "48"
    painted = first.locator(".roll-canvas").evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                    for (let i = 0; i < d.length; i += 4) if (d[i] - d[i+1] > 60 && d[i] - d[i+2] > 60) n++;
                    return n; }""")
    assert painted > 500, "no notes drawn in the track's colour"
    assert first.locator(".legend .chip").all_inner_texts() == ["Acoustic Grand Piano (48)"]

    # audio: the <audio> element gets the rendered wav, decodes it, and the sound is not silence
    with page.expect_response(lambda r: "/audio.wav" in r.url) as response_info:
        first.locator(".listen-button").click()
    response = response_info.value
    assert response.status in (200, 206) and response.headers["content-type"] == "audio/wav"
    player = first.locator(".player")
    page.wait_for_function("(el) => el.readyState >= 2 && el.duration > 0", arg=player.element_handle(),
                           timeout=30_000)
    duration = player.evaluate("(el) => el.duration")
    assert duration >= hit["seconds"][1] - hit["seconds"][0] - 0.05
    wav = base64.b64decode(page.evaluate(
        """async (u) => { const b = new Uint8Array(await (await fetch(u)).arrayBuffer()); let s = '';
                          for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
                          return btoa(s); }""", hit["urls"]["wav"]))
    rms, _ = wav_rms(wav)
    assert rms > 0.003, f"the preview is silent (RMS {rms:.5f})"
    # a piano roll of four parts: a colour per track
    chorale = hits.nth(2)
    assert chorale.locator(".name").inner_text() == "chorale.mid"
    chorale.locator(".roll-button").click()
    page.wait_for_selector("#hits .hit >> nth=2 >> .roll[data-drawn='1']")
    colours = chorale.locator(".legend .chip").evaluate_all("(cs) => cs.map((c) => getComputedStyle(c).borderColor)")
    assert len(colours) == 4 and len(set(colours)) == 4, colours
    page.screenshot(path=str(artefacts / "search.png"), full_page=True)
    if os.environ.get("MIDIBRIDGE_WEB_SCREENSHOT"):
        shutil.copy(artefacts / "search.png", os.environ["MIDIBRIDGE_WEB_SCREENSHOT"])

    # download: a proper file name, a valid MIDI file, the clip's notes
    with page.expect_download() as download_info:
        first.locator(".download").click()
    download = download_info.value
    assert download.suggested_filename == hit["download_name"] == "waltz_a_minor_bars-1-8.mid"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:4] == b"MThd"
    q0, q1 = hit["quarters"]
    assert note_tuples(load_midi(saved)) == note_tuples(load_midi(hit["file"]).window(q0, q1))
    assert not page.problems, page.problems


def test_play_into_the_daw_reaches_a_jack_recorder(page, base_url, jack, osc, artefacts):
    if jack is None:
        pytest.skip("jackd not installed (apt install jackd2)")
    search(page, "fast scale in C major")
    first = page.locator("#hits .hit").nth(0)
    assert first.locator(".name").inner_text() == "fast_c_major_scale.mid"
    hit = hit_json(page, base_url)
    q0, q1 = hit["quarters"]
    expected = [e.data[1] for e in piece_events(load_midi(hit["file"]).window(q0, q1)) if is_note_on(e.data)]
    recorder = Recorder(jack.name, "rec-web-page")
    try:
        recorder.connect_from("midibridge:out")
        x0 = osc.status()["xruns"]
        osc.request("/midibridge/tempo/set", 41, 300.0, reply="/midibridge/tempo/get")
        first.locator(".play-button").click()
        page.locator("#hits .hit[data-played]").first.wait_for(state="attached")
        assert first.get_attribute("data-played") == str(len(expected))
        assert "playing" in first.locator(".action-note").inner_text()
        wait_for_events(recorder, 2 * len(expected), 30)
        assert_complete(recorder, expected, osc.status()["xruns"] - x0)
    finally:
        recorder.close()
    page.screenshot(path=str(artefacts / "played.png"))
    assert not page.problems, page.problems


def test_search_by_example_from_a_dropped_file(page, artefacts):
    page.set_input_files("#example-file", str(CHORALE))
    page.wait_for_selector("#hits .hit")
    assert page.locator("#hits .hit .name").first.inner_text() == "chorale.mid"
    assert "like chorale.mid" in page.locator("#summary").inner_text()
    # a bad file: one clear line on the page
    page.set_input_files("#example-file", files=[{"name": "notes.mid", "mimeType": "audio/midi",
                                                  "buffer": b"not a midi file"}])
    page.wait_for_selector("#message:not([hidden])")
    assert "not a MIDI file" in page.locator("#message").inner_text()
    page.screenshot(path=str(artefacts / "example.png"))


def test_the_library_panel_shows_stats_histograms_and_skipped_files(page, artefacts):
    page.click("#tab-library")
    page.wait_for_selector("#histograms .histogram")
    summary = page.locator("#library-summary").inner_text()
    assert "3 files" in summary and "0 skipped" in summary
    titles = page.locator("#histograms h3").all_inner_texts()
    assert titles == ["Keys (files)", "Tempo (windows, BPM)", "Meters (files)", "Instruments (notes)"]
    keys = page.locator("#histograms .histogram").nth(0).locator(".bar-label").all_inner_texts()
    assert sorted(keys) == ["A minor", "C major", "F# minor"]
    assert page.locator("#issues tbody").inner_text().strip() == "none"
    reindex = page.locator("#reindex")
    if reindex.is_disabled():  # the daemon cannot index from the page: it says so
        assert "/midibridge/library/index" in page.locator("#index-note").inner_text()
    else:  # re-index with a progress bar, then the stats again
        reindex.click()
        page.wait_for_selector("#index-note[data-done='1']", timeout=120_000)
        assert "indexed: 3 files seen" in page.locator("#index-note").inner_text()
        assert page.locator("#index-progress").is_hidden()
        page.wait_for_function("() => !document.querySelector('#library-summary').textContent.startsWith('Loading')")
        assert "3 files" in page.locator("#library-summary").inner_text()
    page.screenshot(path=str(artefacts / "library.png"), full_page=True)


def test_the_generate_panel_says_what_it_can_do(page, artefacts):
    page.click("#tab-generate")
    note = page.locator("#generate-note")
    page.wait_for_function("() => document.body.dataset.generate !== undefined")
    if page.evaluate("() => document.body.dataset.generate") == "placeholder":
        assert "coming with live generation" in note.inner_text()
        assert page.locator("#g-start").is_disabled()
    else:
        assert not page.locator("#g-start").is_disabled()
        page.wait_for_selector("#generate-state dt")
        page.fill("#g-prompt", "a slow melancholic waltz in D minor")
        page.click("#g-start")
        page.wait_for_function("() => document.querySelector('#generate-note').textContent.startsWith('streaming')")
        assert "D minor" in page.locator("#generate-state").inner_text()
        page.screenshot(path=str(artefacts / "generate.png"))
        page.click("#g-stop")
        page.wait_for_function("() => document.querySelector('#generate-note').textContent.startsWith('stopped')")
        page.evaluate("() => fetch('/api/play/stop', {method: 'POST', headers: {'content-type': 'application/json'},"
                      " body: '{}'})")
    page.screenshot(path=str(artefacts / "generate.png"))
