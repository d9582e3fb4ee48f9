"""Serves the dashboard: `/` is the single page, `/dashboard/*` its scripts and styles.

The page holds no data: it reads the JSON API with the key the user signs in with, so these
routes need no key. A strict Content-Security-Policy allows only this origin's scripts and
styles, and media only from blob: URLs the page made from authenticated fetches.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from producer.objectstore import ObjectStore

STATIC_DIR = Path(__file__).resolve().parent / "static"


def security_headers(store: ObjectStore) -> dict[str, str]:
    """Headers for every dashboard file; the object store's origin may serve media (S3)."""
    media_origin = _presigned_origin(store)
    connect = f"'self' {media_origin}" if media_origin else "'self'"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
            "img-src 'self' blob: data:; media-src blob:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # a new release must reach the browser at its next load; the files are small
        "Cache-Control": "no-cache",
    }


def _presigned_origin(store: ObjectStore) -> str | None:
    """Where GET /v1/artifacts redirects to (an S3 endpoint), or None when the API serves files.

    Presigning is computed locally, without a request; a store that cannot presign (no
    credentials yet) gets no exception here, only no media origin.
    """
    try:
        url = store.presigned_url(digest="0" * 64, expires_s=60, filename=None, media_type=None)
    except Exception:  # the API itself reports the store's trouble on /readyz and each read
        return None
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _DashboardFiles(StaticFiles):
    """StaticFiles that add the security and cache headers to every asset."""

    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self.headers = headers

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update(self.headers)
        return response


def mount_dashboard(app: FastAPI, *, store: ObjectStore) -> None:
    """Add `/` and `/dashboard/*` to the app, outside the OpenAPI document."""
    headers = security_headers(store)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=headers)

    app.mount(
        "/dashboard", _DashboardFiles(directory=STATIC_DIR, headers=headers), name="dashboard"
    )
