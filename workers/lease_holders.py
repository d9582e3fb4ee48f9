"""Whether a stage's lease holder is a process on this host that no longer runs.

A lease owner is `<hostname>:<pid>:<random>` (workers/context.py). When the out-of-memory killer
takes a prefork child, Celery hands its message back at once, but the dead child's lease would
keep the stage for `MEDIAQ_LEASE_S` (10 minutes by default). On the same host we can see that
the pid is gone and take the stage over straight away. Another host's holder is never judged:
its liveness is not ours to see, so its lease runs out as usual.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.states import StageState
from schemas.tables import StageRun


def is_dead_local_owner(owner: str, *, hostname: str | None = None) -> bool:
    """True when `owner` names a process of this host that has exited (or is a zombie)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != (hostname or socket.gethostname()) or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (not Linux): a live pid is alive
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def dead_local_owner(*, session: Session, stage_run_id: str) -> str | None:
    """The owner of a running stage when that owner is a dead process of this host."""
    owner = session.execute(
        select(StageRun.lease_owner).where(
            StageRun.id == stage_run_id, StageRun.state == StageState.RUNNING
        )
    ).scalar_one_or_none()
    return owner if owner and is_dead_local_owner(owner) else None
