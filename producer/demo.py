"""`mediaq demo`: the sample batches through the whole system, outputs saved to a folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from producer.client import Client
from producer.embedded import embedded_system
from producer.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SAMPLES = (
    (EXAMPLES / "news" / "batch.jsonl", "news_anchor"),
    (EXAMPLES / "products" / "catalog.csv", "product_showcase"),
)
_EXTENSIONS = {
    "video/mp4": "mp4",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/wav": "wav",
    "application/json": "json",
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
}
# the deliverables get plain names; every other output is "<stage>-<port>.<ext>"
_NAMES = {
    ("credentials", "media"): "video",
    ("credentials", "manifest"): "video.c2pa",
    ("poster_credentials", "media"): "poster",
    ("poster_credentials", "manifest"): "poster.c2pa",
    ("subtitles", "vtt"): "captions",
    ("subtitles", "srt"): "captions",
    ("tts", "audio"): "narration",
    ("tts", "timings"): "timings",
    ("script", "script"): "script",
}


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_demo(
    settings: Settings, *, items_path: Path | None = None, template: str | None = None
) -> None:
    """Start API + worker, submit the sample batches over HTTP, wait, download every output."""
    from producer.cli import progress_bar

    batches = [(items_path, template or "news_anchor")] if items_path else list(SAMPLES)
    _say(f"mediaq demo: data in {settings.data_dir.resolve()}")
    started = time.monotonic()
    with embedded_system(settings) as api:
        _say(f"local API key (tenant 'default'): {api.api_key}")
        client = Client(api.url, api_key=api.api_key)
        for path, name in batches:
            accepted = client.submit_file(path, template=name)
            _say(
                f"{name}: {accepted['item_count']} items from {path.name} as batch {accepted['id']}"
            )
            view = client.wait_for_batch(accepted["id"], timeout_s=3600, on_progress=progress_bar)
            out = settings.data_dir.resolve() / "demo" / accepted["id"]
            for job in view["jobs"]:
                _save_job(client, client.job(job["id"]), out / job["custom_id"])
            _report(view, out)
        client.close()
    _say(f"demo finished in {time.monotonic() - started:.0f} s")


def output_name(stage: str, port: str, media_type: str) -> str:
    """File name for one output in the demo folder."""
    base, _, index = stage.partition("[")
    ext = _EXTENSIONS.get(media_type, "bin")
    name = _NAMES.get((base, port))
    if base == "still_credentials" and port == "media":
        name = f"still-{index.rstrip(']')}"
    return f"{name or stage.replace('[', '-').rstrip(']') + '-' + port}.{ext}"


def _save_job(client: Client, job: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stage in job["stages"]:
        for output in stage["outputs"]:
            name = output_name(stage["name"], output["port"], output["media_type"])
            client.download(output["url"], folder / name)
            client.download(f"{output['url']}/provenance", folder / f"{name}.provenance.json")
    (folder / "job.json").write_text(json.dumps(job, indent=2), encoding="utf-8")


def _report(view: dict[str, Any], out: Path) -> None:
    counts = view["counts"]
    _say(f"done: {counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed")
    for job in view["jobs"]:
        _say(f"  {job['state']:<10} {out / job['custom_id']}")
    _say(f"outputs: {out}")
