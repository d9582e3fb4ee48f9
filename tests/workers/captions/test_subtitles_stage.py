"""Tests of the subtitles stage: inputs, parameters, outputs."""

from __future__ import annotations

import json

import pytest

from tests.workers.captions.readback import read_srt, read_vtt
from workers.captions.cue import Cue
from workers.engines.base import Engine, PermanentEngineError
from workers.engines.caption_rules import CaptionRulesEngine
from workers.stages.subtitles import MakeSubtitles


@pytest.fixture
def engine() -> CaptionRulesEngine:
    rules = CaptionRulesEngine()
    rules.load()
    return rules


def run_stage(sample, engine, tmp_path, params=None):
    script, timings = tmp_path / "script.json", tmp_path / "timings.json"
    script.write_text(json.dumps(sample.script, ensure_ascii=False), "utf-8")
    timings.write_text(json.dumps(sample.timings), "utf-8")
    workdir = tmp_path / "out"
    workdir.mkdir()
    outputs = MakeSubtitles().run(
        item={"language": sample.script["language"]},
        inputs={"timings": timings, "script": script},
        params=params or {},
        engine=engine,
        workdir=workdir,
    )
    return {output.name: output for output in outputs}


def test_stage_writes_vtt_srt_and_cues_that_agree(samples, engine, tmp_path):
    outputs = run_stage(samples["library-zh-0421"], engine, tmp_path)
    assert {name: o.media_type for name, o in outputs.items()} == {
        "vtt": "text/vtt",
        "srt": "application/x-subrip",
        "cues": "application/json",
    }
    vtt = outputs["vtt"].path.read_bytes()
    assert vtt.startswith(b"WEBVTT\n") and b"\r" not in vtt
    document = json.loads(outputs["cues"].path.read_text("utf-8"))
    assert document["language"] == "zh"
    assert document["rules"]["max_chars_per_line"] == 16
    from_json = [
        Cue(round(cue["start_s"] * 1000), round(cue["end_s"] * 1000), tuple(cue["lines"]))
        for cue in document["cues"]
    ]
    assert read_vtt(vtt.decode("utf-8")) == from_json
    assert read_srt(outputs["srt"].path.read_text("utf-8")) == from_json
    assert [c["index"] for c in document["cues"]] == list(range(1, len(from_json) + 1))


def test_stage_parameters_change_the_cues(samples, engine, tmp_path):
    outputs = run_stage(
        samples["harbor-bridge-0412"], engine, tmp_path, {"max_lines": 1, "max_chars_per_line": 32}
    )
    document = json.loads(outputs["cues"].path.read_text("utf-8"))
    assert all(len(cue["lines"]) == 1 and len(cue["lines"][0]) <= 32 for cue in document["cues"])
    assert document["rules"]["max_lines"] == 1


def test_an_unknown_parameter_fails_the_stage_naming_it(samples, engine, tmp_path):
    with pytest.raises(PermanentEngineError, match="max_line_count"):
        run_stage(samples["harbor-bridge-0412"], engine, tmp_path, {"max_line_count": 3})


def test_timings_of_another_script_fail_the_stage(samples, engine, tmp_path):
    sample = samples["harbor-bridge-0412"]
    other = type(sample)(sample.custom_id, samples["market-es-0422"].script, sample.timings)
    with pytest.raises(PermanentEngineError, match="different script"):
        run_stage(other, engine, tmp_path)


def test_stage_refuses_an_engine_it_cannot_drive(samples, tmp_path):
    class Other(Engine):
        name, version = "other", "0"

        def load(self) -> None:
            pass

    with pytest.raises(PermanentEngineError, match="rules"):
        run_stage(samples["harbor-bridge-0412"], Other(), tmp_path)


def test_engine_declares_a_name_and_version_for_the_cache_key():
    assert (CaptionRulesEngine.name, CaptionRulesEngine.device) == ("rules", "cpu")
    assert CaptionRulesEngine.version
    assert MakeSubtitles.kind == "subtitles"
    assert list(MakeSubtitles.engines) == ["rules"]
    assert MakeSubtitles.outputs == ("vtt", "srt", "cues")
