"""After a fault test: did every job succeed, and was anything published or committed twice?

Three independent witnesses:
- the database: every output a stage run kept has its artifact and provenance rows, and no
  provenance row of the batch names an output its stage run did not keep (a run that published
  and then committed other outputs would leave one);
- the object store: stored objects beyond the artifact rows are bytes a run uploaded and never
  committed (orphans; not visible to anyone, reported but not counted as duplicates);
- the worker logs: each stage run is reported committed (`succeeded` / `cache_hit`) by at most one
  delivery; two would be a result committed by two workers.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from producer.db import Database
from producer.objectstore import ObjectStore
from schemas.tables import Artifact, Job, Provenance, StageRun

OUTCOME_RE = re.compile(r"stage run ([0-9a-f]{32}): (\w+)")
COMMITTED = frozenset({"succeeded", "cache_hit"})
FIGURES_ENV = "MEDIAQ_FAULT_FIGURES"  # where the FAULT lines go besides the test output
DEFAULT_FIGURES = Path(__file__).resolve().parents[2] / "tmp" / "fault-figures.txt"


@dataclass
class Audit:
    jobs: int
    job_states: Counter[str]
    stage_attempts: dict[str, int]
    duplicates: int
    orphans: int
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.job_states["succeeded"]


def read_outcomes(log_path: Path) -> list[tuple[str, str]]:
    """(stage run id, outcome) for every delivery the workers logged, in order."""
    if not log_path.exists():
        return []
    return OUTCOME_RE.findall(log_path.read_text(errors="replace"))


def audit_batch(*, db: Database, store: ObjectStore, batch_id: str, log_path: Path) -> Audit:
    """Check the batch after it drained; the database must hold this test's data only."""
    with db.read_session() as session:
        job_states = Counter(
            session.execute(select(Job.state).where(Job.batch_id == batch_id)).scalars()
        )
        stages = session.execute(
            select(StageRun.id, StageRun.state, StageRun.attempts, StageRun.outputs)
            .join(Job, Job.id == StageRun.job_id)
            .where(Job.batch_id == batch_id)
        ).all()
        stage_ids = [row.id for row in stages]
        provenance = session.execute(
            select(Provenance.stage_run_id, Provenance.artifact_digest).where(
                Provenance.stage_run_id.in_(stage_ids)
            )
        ).all()
        outputs = {row.id: set(row.outputs.values()) for row in stages}
        published = set().union(*outputs.values()) if outputs else set()
        described = set(
            session.execute(
                select(Provenance.artifact_digest).where(Provenance.artifact_digest.in_(published))
            ).scalars()
        )
        stored_rows = set(
            session.execute(select(Artifact.digest).where(Artifact.digest.in_(published))).scalars()
        )
        artifact_rows = session.execute(select(func.count()).select_from(Artifact)).scalar_one()
    problems: list[str] = []
    # a stage that published outputs and then committed others: rows for what it dropped
    extra_provenance = sum(1 for sid, digest in provenance if digest not in outputs[sid])
    if extra_provenance:
        problems.append(f"{extra_provenance} provenance rows for outputs no stage run kept")
    if published - described or published - stored_rows:
        problems.append(
            f"outputs without provenance: {len(published - described)}, "
            f"without an artifact row: {len(published - stored_rows)}"
        )
    delivered = read_outcomes(log_path)
    commits = Counter(sid for sid, outcome in delivered if outcome in COMMITTED)
    twice = {sid: n for sid, n in commits.items() if n > 1}
    if twice:
        problems.append(f"stage runs committed by more than one delivery: {twice}")
    duplicates = extra_provenance + sum(n - 1 for n in twice.values())
    return Audit(
        jobs=sum(job_states.values()),
        job_states=job_states,
        stage_attempts={row.id: row.attempts for row in stages},
        duplicates=duplicates,
        orphans=store.count_objects() - int(artifact_rows),
        outcomes=Counter(outcome for _, outcome in delivered),
        problems=problems,
    )


def report(
    scenario: str, audit: Audit, *, faults: int, recovered: int, drain_s: float, extra: str = ""
) -> str:
    """Print the figures line and append it to the figures file; returns the line."""
    line = (
        f"FAULT {scenario}: jobs={audit.jobs} faults={faults} recovered={recovered} "
        f"duplicates={audit.duplicates} drain_s={drain_s:.1f} orphans={audit.orphans}"
        + (f" {extra}" if extra else "")
    )
    print(line)  # noqa: T201 - the figures line is the point of the suite
    path = Path(os.environ.get(FIGURES_ENV) or DEFAULT_FIGURES)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as figures:
        figures.write(line + "\n")
    return line


def assert_clean(audit: Audit, *, accepted: int) -> None:
    """Every accepted job succeeded; nothing published or committed twice."""
    assert audit.jobs == accepted, f"{audit.jobs} jobs in the batch, {accepted} accepted"
    assert audit.succeeded == accepted, f"job states: {dict(audit.job_states)}"
    assert not audit.problems, audit.problems
    assert audit.duplicates == 0
    # the double-commit check reads the worker log: make sure it read something
    assert audit.outcomes["succeeded"] > 0, "no stage outcome in the worker log (format changed?)"
