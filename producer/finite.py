"""Finding NaN and Infinity in parsed JSON: Python's and pydantic's parsers accept them."""

from __future__ import annotations

import math
from typing import Any


def non_finite_fields(value: Any, *, path: str = "", limit: int = 20) -> list[str]:
    """Paths ("items[2].price") of the float NaN/Infinity values inside `value`, the first few."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(found) < limit:  # iterative: a deeply nested body cannot overflow
        where, current = stack.pop()
        if isinstance(current, float) and not math.isfinite(current):
            found.append(where or "body")
        elif isinstance(current, dict):
            stack.extend((f"{where}.{key}" if where else str(key), v) for key, v in current.items())
        elif isinstance(current, list):
            stack.extend((f"{where}[{index}]", v) for index, v in enumerate(current))
    return sorted(found)
