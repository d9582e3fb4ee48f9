"""`mediaq demo`: the sample news batch through the whole system, outputs saved to a folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from producer.client import Client
from producer.embedded import embedded_system
from producer.settings import Settings

SAMPLE_NEWS = Path(__file__).resolve().parents[1] / "examples" / "news" / "batch.jsonl"
_FILENAMES = {"script": "script.json", "audio": "narration.wav", "timings": "timings.json"}


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_demo(settings: Settings, *, items_path: Path | None) -> None:
    """Start API + worker, submit the batch over HTTP, wait, download every output."""
    from producer.cli import progress_bar

    path = items_path or SAMPLE_NEWS
    _say(f"mediaq demo: data in {settings.data_dir.resolve()}")
    with embedded_system(settings) as api:
        client = Client(api.url)
        accepted = client.submit_file(path, template="voiceover")
        _say(f"submitted {accepted['item_count']} items from {path.name} as batch {accepted['id']}")
        view = client.wait_for_batch(accepted["id"], timeout_s=1800, on_progress=progress_bar)
        out = settings.data_dir.resolve() / "demo" / accepted["id"]
        for job in view["jobs"]:
            _save_job(client, client.job(job["id"]), out / job["custom_id"])
        client.close()
    _report(view, out)


def _save_job(client: Client, job: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stage in job["stages"]:
        for output in stage["outputs"]:
            name = _FILENAMES.get(output["port"], f"{stage['name']}-{output['port']}")
            client.download(output["url"], folder / name)
            client.download(f"{output['url']}/provenance", folder / f"{name}.provenance.json")
    (folder / "job.json").write_text(json.dumps(job, indent=2), encoding="utf-8")


def _report(view: dict[str, Any], out: Path) -> None:
    counts = view["counts"]
    _say(f"done: {counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed")
    for job in view["jobs"]:
        _say(f"  {job['state']:<10} {out / job['custom_id']}")
    _say(f"outputs: {out}  (narration.wav, timings.json, script.json, provenance per file)")
