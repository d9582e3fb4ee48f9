"""Logging for every mediaq process: text for a terminal, one JSON object per line for machines.

Log lines carry the ids of the work they are about (batch, job, stage run) from a context
variable, so a log search for one job finds the API's, the reconciler's and the workers' lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
CONTEXT_FIELDS = ("batch_id", "job_id", "stage_run_id", "stage")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s"

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "mediaq_log_context", default=None
)
# attributes every LogRecord has; anything else on a record came from `extra=` and is kept
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "ids"}


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids to every log line written inside the block (nested blocks add to them)."""
    token = _context.set({**_ids(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**ids: str | None) -> None:
    """Add ids for the rest of the enclosing `log_context` block (which undoes them on exit).

    Outside any block it does nothing: ids set there would outlive the work they describe.
    """
    if _context.get() is not None:
        _context.set({**_ids(), **{k: v for k, v in ids.items() if v}})


def _ids() -> dict[str, str]:
    return _context.get() or {}


class ContextFilter(logging.Filter):
    """Copies the context ids onto each record, and a text suffix for the text format."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _ids()
        for name in CONTEXT_FIELDS:
            if name in ids and not hasattr(record, name):
                setattr(record, name, ids[name])
        present = [f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if hasattr(record, n)]
        record.ids = f" [{' '.join(present)}]" if present else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # extras that JSON cannot hold (objects, bytes) are written as their repr
        return json.dumps(entry, ensure_ascii=False, default=repr)


def configure_logging(*, log_format: LogFormat = "text", level: str = "INFO") -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
