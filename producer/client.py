"""A small HTTP client of the mediaq API, used by the CLI (`submit`, `status`, `demo`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from producer.api.problems import ProblemError
from producer.intake import file_kind, parse_items
from producer.lifecycle import foreach_elements
from schemas.states import TERMINAL_JOB_STATES


class ApiError(Exception):
    """The API answered with a problem document; str() is one line for the terminal."""


class Client:
    def __init__(self, base_url: str, *, api_key: str = "", timeout_s: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(f"cannot reach the API at {self._http.base_url}: {error}") from None
        if response.status_code >= 400:
            raise ApiError(_problem_line(response))
        return response.json()

    def submit_file(
        self, path: Path, *, template: str, priority: int = 5, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a JSONL/CSV file; local files its items name (photos) are uploaded with it."""
        kind = file_kind(content_type="", filename=path.name)
        if kind is None:
            raise ApiError(f"{path}: expected a .jsonl or .csv file")
        content_type = "text/csv" if kind == "csv" else "application/x-ndjson"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        assets = self._local_assets(path, kind=kind, template=template)
        if not assets:
            return self._call(
                "POST",
                "/v1/batches",
                params={"template": template, "priority": priority},
                content=path.read_bytes(),
                headers={**headers, "Content-Type": content_type},
            )
        files = [("file", (path.name, path.read_bytes(), content_type))]
        files += [
            ("assets", (name, file.read_bytes(), "application/octet-stream"))
            for name, file in assets.items()
        ]
        return self._call(
            "POST",
            "/v1/batches",
            data={"template": template, "priority": str(priority)},
            files=files,
            headers=headers,
        )

    def _local_assets(self, path: Path, *, kind: str, template: str) -> dict[str, Path]:
        """Files beside `path` that the items name in the template's fan-out fields."""
        spec = self._call("GET", f"/v1/templates/{template}")
        fields = {stage["foreach"] for stage in spec["stages"] if stage.get("foreach")}
        if not fields:
            return {}
        try:
            items = parse_items(data=path.read_bytes(), kind=kind)
        except ProblemError as error:
            raise ApiError(f"{path}: {error.detail}") from None
        assets: dict[str, Path] = {}
        for item in items:
            for field in fields:
                for element in foreach_elements(item.get(field)):
                    local = (path.parent / str(element)).resolve()
                    if not str(element).startswith(("https://", "asset:")) and local.is_file():
                        assets[str(element)] = local
        return assets

    def batch(self, batch_id: str, *, jobs_limit: int = 1000) -> dict[str, Any]:
        return self._call("GET", f"/v1/batches/{batch_id}", params={"jobs_limit": jobs_limit})

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job_id}")

    def download(self, url_path: str, target: Path) -> None:
        response = self._http.get(url_path, follow_redirects=True)
        if response.status_code >= 400:
            raise ApiError(_problem_line(response))
        target.write_bytes(response.content)

    def wait_for_batch(
        self,
        batch_id: str,
        *,
        timeout_s: float,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until every job has ended; raises ApiError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            view = self.batch(batch_id, jobs_limit=0)
            if on_progress:
                on_progress(view)
            done = sum(view["counts"].get(state, 0) for state in TERMINAL_JOB_STATES)
            if done >= view["item_count"]:
                return self.batch(batch_id)
            if time.monotonic() > deadline:
                raise ApiError(f"batch {batch_id} not finished after {timeout_s:.0f} s")
            time.sleep(0.5)


def _problem_line(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    detail = body.get("detail") or body.get("title") or body
    return f"HTTP {response.status_code}: {detail}"
