"""The real embedded system for the media figures: submit over HTTP, wait, read stage times.

`embedded_system()` as `mediaq demo` runs it: the API (uvicorn) in a thread of the bench
process, one `mediaq worker` process (Celery prefork, one child per core) beside it, SQLite,
the embedded file broker and a local object folder, all in a fresh data folder. Jobs are
followed through GET /v1/jobs/{id}; their times come from the stage rows the API shows.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

POLL_S = 0.1
REQUEST_TIMEOUT_S = 60.0
TERMINAL = frozenset({"succeeded", "failed", "canceled", "expired"})


def _epoch(stamp: str | None) -> float:
    if stamp is None:
        raise RuntimeError("a finished stage lacks a timestamp")
    return datetime.fromisoformat(stamp).timestamp()


@dataclass(frozen=True)
class StageTime:
    """One stage run's timestamps, seconds since the epoch."""

    name: str
    queued_at: float
    started_at: float
    finished_at: float
    is_cache_hit: bool

    @property
    def run_s(self) -> float:
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class FinishedJob:
    """A job that succeeded: its view, and seconds from the POST to the job's finished_at."""

    view: dict[str, Any]
    submitted_at: float
    wall_s: float

    @property
    def stages(self) -> list[StageTime]:
        return [
            StageTime(
                name=stage["name"],
                queued_at=_epoch(stage["queued_at"]),
                started_at=_epoch(stage["started_at"]),
                finished_at=_epoch(stage["finished_at"]),
                is_cache_hit=bool(stage["is_cache_hit"]),
            )
            for stage in self.view["stages"]
        ]

    def output(self, stage: str, port: str) -> dict[str, Any]:
        """The output reference (url, digest, duration_s, ...) of `stage`.`port`."""
        for entry in self.view["stages"]:
            if entry["name"] == stage:
                for output in entry["outputs"]:
                    if output["port"] == port:
                        return dict(output)
        raise KeyError(f"job {self.view['custom_id']} has no output {stage}.{port}")


class MediaSystem:
    """API + worker on a fresh embedded data folder; stopped on exit.

    Args:
        data_dir: an empty folder of the bench setup.
    """

    def __init__(self, *, data_dir: Path, concurrency: int = 0) -> None:
        self.data_dir = data_dir
        self.concurrency = concurrency  # prefork children; 0: one per core
        self._stack = ExitStack()
        self.http: httpx.Client | None = None

    def __enter__(self) -> MediaSystem:
        from producer.embedded import embedded_system
        from producer.settings import Settings

        # explicit empty service URLs: the embedded default, whatever the environment says
        settings = Settings(data_dir=self.data_dir, database_url="", broker_url="", storage_url="")
        try:
            api = self._stack.enter_context(embedded_system(settings, concurrency=self.concurrency))
            key = getattr(api, "api_key", "")  # API keys arrive with tenants; older APIs are open
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            self.http = self._stack.enter_context(
                httpx.Client(base_url=api.url, timeout=REQUEST_TIMEOUT_S, headers=headers)
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()

    @property
    def client(self) -> httpx.Client:
        if self.http is None:
            raise RuntimeError("MediaSystem is used outside its `with` block")
        return self.http

    def submit_items(
        self, *, template: str, items: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
    ) -> tuple[list[str], float]:
        """POST a JSON batch; (job ids in item order, time.time() just before the request)."""
        submitted_at = time.time()
        body = {"template": template, "items": list(items), "params": dict(params)}
        return self._accepted(self.client.post("/v1/batches", json=body)), submitted_at

    def submit_catalog(
        self,
        *,
        rows: Sequence[Mapping[str, str]],
        photos: Mapping[str, Path],
        params: Mapping[str, Any],
    ) -> tuple[list[str], float]:
        """POST a product CSV with its photos as multipart assets (as `mediaq submit` does).

        Args:
            rows: catalog rows; their "image" fields name keys of `photos`.
            photos: asset name (as the rows spell it) -> local file.
            params: per-stage parameter overrides.
        """
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        files = [("file", ("catalog.csv", out.getvalue().encode("utf-8"), "text/csv"))]
        files += [
            ("assets", (name, path.read_bytes(), "application/octet-stream"))
            for name, path in photos.items()
        ]
        data = {"template": "product_showcase", "params": json.dumps(dict(params))}
        submitted_at = time.time()
        return self._accepted(self.client.post("/v1/batches", data=data, files=files)), submitted_at

    def _accepted(self, response: httpx.Response) -> list[str]:
        if response.status_code != 202:
            raise RuntimeError(f"submit answered {response.status_code}: {response.text[:500]}")
        return [job["id"] for job in response.json()["jobs"]]

    def wait_jobs(
        self, job_ids: Sequence[str], *, submitted_at: float, timeout_s: float
    ) -> list[FinishedJob]:
        """Poll each job until it ends; every job must succeed.

        Raises:
            RuntimeError: a job failed (with every stage error) or did not end in time.
        """
        deadline = time.monotonic() + timeout_s
        return [
            self._wait_job(job_id, submitted_at=submitted_at, deadline=deadline)
            for job_id in job_ids
        ]

    def _wait_job(self, job_id: str, *, submitted_at: float, deadline: float) -> FinishedJob:
        while True:
            view = self._get_json(f"/v1/jobs/{job_id}")
            if view["state"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {view['custom_id']} still {view['state']} at the deadline")
            time.sleep(POLL_S)
        if view["state"] != "succeeded":
            errors = [f"{s['name']}: {s['error']}" for s in view["stages"] if s["error"]]
            raise RuntimeError(f"job {view['custom_id']} {view['state']}: {'; '.join(errors)}")
        return FinishedJob(
            view=view, submitted_at=submitted_at, wall_s=_epoch(view["finished_at"]) - submitted_at
        )

    def _get_json(self, path: str) -> dict[str, Any]:
        response = self.client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        return dict(response.json())

    def download(self, *, output: Mapping[str, Any], path: Path) -> Path:
        """Fetch one output (API-served file or presigned URL) to `path`."""
        response = self.client.get(output["url"], follow_redirects=True)
        if response.status_code != 200:
            raise RuntimeError(f"download of {output['url']} answered {response.status_code}")
        path.write_bytes(response.content)
        return path
