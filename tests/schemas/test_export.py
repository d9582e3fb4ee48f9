"""The committed JSON Schema files match the models (regenerate: python -m schemas.export)."""

from __future__ import annotations

from schemas.export import JSON_DIR, render


def test_committed_json_schemas_match_the_models() -> None:
    for name, text in render().items():
        path = JSON_DIR / name
        assert path.exists(), f"{name} missing: run python -m schemas.export"
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python -m schemas.export"
        )
