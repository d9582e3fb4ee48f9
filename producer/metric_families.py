"""Building blocks of /metrics: counts from a grouped query, as one labelled gauge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.orm import Session


def grouped_counts(session: Session, query: Any, *, keys: Iterable[Any]) -> dict[Any, int]:
    """{key: count} from a query of (key, count) rows; every expected key, zero when absent
    (a series that disappears reads as missing data, not as zero)."""
    counts = dict.fromkeys(keys, 0)
    for key, count in session.execute(query):
        counts[key] = count
    return counts


def labelled_gauge(
    name: str, documentation: str, *, label: str, values: Mapping[str, float]
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        gauge.add_metric([key], value)
    return gauge
