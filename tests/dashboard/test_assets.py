"""The dashboard's files: served without a key, locked down by headers, outside the API docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from producer.dashboard.views import STATIC_DIR


def test_the_page_and_its_assets_are_served_without_a_key(api_client: TestClient) -> None:
    anonymous = TestClient(api_client.app)
    page = anonymous.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="sign-in-form"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "media-src blob:" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in re.findall(r'(?:src|href)="/dashboard/([^"]+)"', page.text):
        asset = anonymous.get(f"/dashboard/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["cache-control"] == "no-cache"


def test_every_module_the_scripts_import_exists() -> None:
    for script in STATIC_DIR.glob("*.js"):
        for name in re.findall(r'from "\./([^"]+)"', script.read_text(encoding="utf-8")):
            assert (STATIC_DIR / name).is_file(), f"{script.name} imports missing {name}"


def test_the_dashboard_is_not_part_of_the_api_document(api_client: TestClient) -> None:
    paths = api_client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/dashboard") for p in paths)
    assert api_client.get("/dashboard/nope.js").status_code == 404


def test_behind_s3_the_page_may_fetch_media_from_the_presigned_origin(
    s3_endpoint_url: str,
) -> None:
    from producer.dashboard.views import security_headers
    from producer.objectstore import open_object_store

    store = open_object_store(
        f"s3://media?endpoint_url={s3_endpoint_url}&region=us-east-1"
        "&access_key=testing&secret_key=testing"
    )
    policy = security_headers(store)["Content-Security-Policy"]
    assert f"connect-src 'self' {s3_endpoint_url.rstrip('/')};" in policy
