"""Fixtures for the caption tests: real narration timings for the 12 sample news articles."""

from __future__ import annotations

import json

import pytest

from tests.workers.captions.sample_track import BATCH, Sample


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    """Script and timings of every sample article, made by the real script and tts stages."""
    from workers.engines.espeak import EspeakEngine
    from workers.engines.extractive import ExtractiveEngine
    from workers.stages.script import WriteScript
    from workers.stages.tts import TextToSpeech

    writer, speaker = ExtractiveEngine(), EspeakEngine()
    writer.load()
    speaker.load()
    found = {}
    for line in BATCH.read_text("utf-8").splitlines():
        item = json.loads(line)
        workdir = tmp_path_factory.mktemp(item["custom_id"])
        (script,) = WriteScript().run(
            item=item, inputs={}, params={"target_duration_s": 45}, engine=writer, workdir=workdir
        )
        outputs = TextToSpeech().run(
            item=item, inputs={"script": script.path}, params={}, engine=speaker, workdir=workdir
        )
        timings = next(output.path for output in outputs if output.name == "timings")
        found[item["custom_id"]] = Sample(
            custom_id=item["custom_id"],
            script=json.loads(script.path.read_text("utf-8")),
            timings=json.loads(timings.read_text("utf-8")),
        )
    return found
