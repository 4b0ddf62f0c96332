"""Text control in musicians' words: the parser reads what the prompt means, the written file holds it (judged
by bridge.analysis), the torch-free config guards the vocabulary, and torch can be rebuilt from a shipped graph."""

import json

import pytest
from click.testing import CliRunner

from bridge.analysis.instruments import ARRANGING_NAMES, ENSEMBLES
from bridge.generation.control import judge, key_near, render
from bridge.generation.control_suite import BLIND, HANDWRITTEN, ControlPrompt, control_prompts
from bridge.generation.prompt import parse_prompt
from bridge.generation.runtime import DEFAULT_MODEL_DIR
from bridge.generation.texture import prompt_instruments, style_for


@pytest.mark.parametrize(
    "text,key,meter,bpm,bars",
    [
        ("Hymn tune in E flat for SATB choir, common time, ♩ = 72, eight measures", "Eb major", "4/4", 72, 8),
        ("In D, tempo 104: a jaunty tarantella, just six measures", "D major", "6/8", 104, 6),
        ("a cue in C sharp minor, 12/8, ♩. = 50, 6 bars", "C# minor", "12/8", 75, 6),
        ("Gm, three beats to the bar, M.M. 60, a four-bar phrase", "G minor", "3/4", 60, 4),
        ("in the key of F# major, alla breve, dotted quarter = 80", "F# major", "2/2", 120, 16),
        ("in b minor, in twelve-eight, around ninety bpm", "B minor", "12/8", 90, 16),
        ("Calypso in F, cut time, at 112, five bars", "F major", "2/2", 112, 5),
        ("a sarabande in A-flat major, a 7-bar phrase", "Ab major", "3/4", 60, 7),
    ],
)
def test_musicians_words_give_the_controls(text, key, meter, bpm, bars):
    c = parse_prompt(text)
    assert (c.key_name, c.meter, c.tempo_bpm, c.bars) == (key, meter, bpm, bars)
    assert c.key_given and c.meter_given and (c.tempo_given or "tempo" not in text)


def test_italian_markings_sit_in_the_analysis_bins():
    from bridge.analysis.tempo import tempo_word

    for word, bin_ in (("allegretto", "Allegretto"), ("larghetto", "Larghetto"), ("presto", "Presto"),
                       ("vivace", "Vivace"), ("lento", "Largo"), ("andantino", "Andante"), ("moderato", "Moderato")):
        assert tempo_word(parse_prompt(f"a tune, {word}").tempo_bpm) == bin_, word


def test_meter_words_do_not_ask_for_drums_and_bars_are_not_a_barcarolle():
    style = style_for("3/4", "a tune with three beats to the bar")
    assert "drums" not in style.roles
    c = parse_prompt("an 8-bar tune")
    assert c.bars == 8 and "bar" not in c.unmatched


def test_ensembles_and_arranging_names_give_their_instruments():
    assert [p for _, ps in prompt_instruments("for string quartet") for p in ps] == [40, 40, 41, 42]
    assert prompt_instruments("on steel-string guitar") == [("steel-string guitar", (25,))]
    style = style_for("4/4", "for brass quintet")
    played = {p for _, p in style.programs if _ in style.roles} | {p for _, p in style.doubles}
    assert {56, 60, 57, 58} <= played


@pytest.mark.parametrize("prompt,expect", [
    ("Reggae groove in A major, 4/4, 76 bpm, organ, electric guitar, bass guitar and drums, 4 bars",
     [("organ", (16,)), ("electric guitar", (26,)), ("bass guitar", (33,)), ("drums", (128,))]),
    ("A march for military band in B-flat, two-four, quarter = 116, trumpets, trombones, tuba and snare, 8 bars",
     [("military band", (56, 57, 58, 128)), ("trumpet", (56,)), ("trombone", (57,)), ("tuba", (58,)),
      ("snare", (128,))]),
    ("Slow blues in E flat, 12/8, ♩ = 66, tenor sax, organ, upright bass and brushes, 4 bars",
     [("tenor sax", (66,)), ("organ", (16,)), ("upright bass", (32,)), ("brushes", (128,))]),
    ("Something tender in A-flat, 3/4, for cor anglais and strings, 8 bars",
     [("cor anglais", (69,)), ("strings", (48,))]),
    ("Rock ballad in C major, electric piano, clean electric guitar, bass and drums",
     [("electric piano", (4,)), ("clean electric guitar", (27,)), ("bass", (32,)), ("drums", (128,))]),
    ("a jig for steel string guitar and bodhrán", [("steel-string guitar", (25,)), ("bodhrán", (128,))]),
])  # fmt: skip
def test_prompt_instruments_in_the_order_named(prompt, expect):
    assert prompt_instruments(prompt) == expect


def test_prompt_instruments_read_the_shared_word_table():
    for words, line_up in ENSEMBLES.items():
        assert prompt_instruments(f"for {words}") == [(words, line_up)]
    for words, program in ARRANGING_NAMES.items():
        assert prompt_instruments(f"on {words}") == [(words, (program,))]


def test_key_near_is_relative_or_a_fifth():
    assert key_near(9, "minor", 0, "major") and key_near(7, "major", 0, "major") and key_near(5, "major", 0, "major")
    assert not key_near(2, "major", 0, "major") and not key_near(0, "minor", 0, "major")


def test_suite_is_large_and_varied():
    ps = control_prompts(240)
    assert len(ps) == 240 and len({p.text for p in ps}) == 240
    assert len({(p.tonic_pc, p.mode) for p in ps}) == 24
    assert {p.meter for p in ps} == {"2/4", "3/4", "4/4", "2/2", "3/2", "6/8", "9/8", "12/8", "3/8", "6/4"}
    assert len(HANDWRITTEN) >= 20 and len(BLIND) >= 40


@pytest.fixture(scope="module")
def models():
    from bridge.generation.runtime import GenerationModels

    return GenerationModels.load()


def test_a_written_file_is_judged_by_the_analysis(tmp_path, models):
    cp = ControlPrompt("a jig in D major for fiddle and guitar, dotted quarter = 80, 4 bars", 2, "major", "6/8",
                       120.0, None, 4, (("fiddle", frozenset({40, 110})), ("guitar", frozenset(range(24, 32)))))
    c = parse_prompt(cp.text).with_(seed=3)
    render(models, cp.text, c, tmp_path / "x.mid")
    row = judge(cp, tmp_path / "x.mid")
    assert row["meter"] and row["length"] and row["tb"] and all(row["instruments"])
    assert row["tempo_heard"] == pytest.approx(120.0, abs=0.01)
    wrong = ControlPrompt(cp.text, 2, "major", "3/4", 60.0, None, 5, (("harp", frozenset({46})),))
    bad = judge(wrong, tmp_path / "x.mid")
    assert not bad["meter"] and not bad["length"] and not bad["tb"] and bad["instruments_missed"] == ["harp"]


def test_eval_control_cli_reports_the_table(tmp_path):
    from bridge.cli.main import main

    res = CliRunner().invoke(main, ["eval", "generation", "--control", "6", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    table = json.loads(res.stdout)["control"]
    assert table["prompts"] == 6 and table["seed"] == 1
    assert set(table["heard_percent"]) >= {"TB", "TBT", "CK", "CKD", "instruments", "meter", "length"}
    assert table["heard_percent"]["meter"] == 100.0


def test_config_refuses_another_vocabulary(tmp_path):
    from bridge.generation.config import BackboneConfig, ModelConfigError, load_config
    from bridge.generation.runtime import GenerationModels, ModelNotFound

    for name in ("backbone", "melody"):
        (tmp_path / f"{name}.onnx").write_bytes((DEFAULT_MODEL_DIR / f"{name}.onnx").read_bytes())
        (tmp_path / f"{name}.json").write_text((DEFAULT_MODEL_DIR / f"{name}.json").read_text())
    assert GenerationModels.load(tmp_path).backbone.cfg == BackboneConfig.load(DEFAULT_MODEL_DIR / "backbone.json")
    data = json.loads((tmp_path / "melody.json").read_text())
    (tmp_path / "melody.json").write_text(json.dumps({**data, "vocab_size": 300}))
    with pytest.raises(ModelNotFound, match="300 tokens"):
        GenerationModels.load(tmp_path)
    (tmp_path / "backbone.json").write_text(json.dumps({**data, "colour": 1}))
    with pytest.raises(ModelConfigError, match="unknown field"):
        load_config(BackboneConfig, tmp_path / "backbone.json")


@pytest.mark.parametrize("kind", ["backbone", "melody"])
def test_torch_rebuilt_from_the_shipped_graph_matches_it(kind):
    pytest.importorskip("torch")
    from export.generation import rebuild_parity

    rep = rebuild_parity(DEFAULT_MODEL_DIR / f"{kind}.onnx")
    assert rep["ok"] and rep["max_abs_logit_diff"] <= 1e-4


def test_kv_melody_graph_steps_like_the_memory_graph():
    import numpy as np

    from bridge.generation.config import MelodyConfig
    from bridge.generation.runtime import OnnxMelodyKVStepper, OnnxMelodyStepper, _session

    cfg = MelodyConfig.load(DEFAULT_MODEL_DIR / "melody.json")
    mem = OnnxMelodyStepper(_session(DEFAULT_MODEL_DIR / "melody.onnx"), cfg)
    kv = OnnxMelodyKVStepper(_session(DEFAULT_MODEL_DIR / "melody_kv.onnx"), cfg)
    rng = np.random.default_rng(0)
    feeds = [[1, 10, 40, 50]] + [[int(t)] for t in rng.integers(7, cfg.vocab_size, 180)]
    worst = max(float(np.abs(mem.feed(f) - kv.feed(f)).max()) for f in feeds)
    assert worst <= 1e-4
    assert kv.memory_tokens == mem.memory_tokens == cfg.mem_len  # bounded alike past the memory length


def test_tiny_export_writes_the_kv_melody_with_parity(tiny_exported):
    out, reports, _runs = tiny_exported
    kv = [r for r in reports if r["model"] == "melody_kv"]
    assert kv and kv[0]["ok"] and (out / "melody_kv.onnx").exists()


def test_eval_prompts_takes_a_seed():
    from bridge.cli.main import main

    runs = [json.loads(CliRunner().invoke(main, ["eval", "generation", "--prompts", "3", "--seed", str(s), "--json"])
                       .stdout)["prompts"] for s in (0, 0, 5)]
    assert runs[0] == runs[1] and runs[0]["prompts"] == 3


def test_shipped_kv_graph_is_reproduced_from_the_melody_graph(tmp_path):
    pytest.importorskip("torch")
    from bridge.cli.main import main

    res = CliRunner().invoke(main, ["export", "generation", "--kv-from", str(DEFAULT_MODEL_DIR), "--out",
                                    str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["ok"]
    import numpy as np

    from export.onnx_weights import onnx_initializers

    # The same weights as the shipped graph (bytes may differ across torch versions, the weights may not).
    new, old = onnx_initializers(tmp_path / "melody_kv.onnx"), onnx_initializers(DEFAULT_MODEL_DIR / "melody_kv.onnx")
    assert sorted(new) == sorted(old) and all(np.array_equal(new[k], old[k]) for k in new)


def test_mood_vibes_write_no_vibraphone():
    from bridge.generation.texture import prompt_instruments

    assert prompt_instruments("chill vibes lo-fi chords") == []
    assert prompt_instruments("vibes and nylon guitar") == [("vibes", (11,)), ("nylon guitar", (24,))]
