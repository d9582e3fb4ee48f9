"""bench/report.py rewrites BENCHMARKS.md but keeps the fault-injection table it does not make."""

from __future__ import annotations

from pathlib import Path

from bench.report import write_markdown

FAULT_SECTION = """## Fault injection

| scenario | jobs | faults | recovered | duplicates | drain time |
| --- | --- | --- | --- | --- | --- |
| worker SIGKILL | 50 | 12 | 12 | 0 | 30.1 s |
- Figures from `pytest tests/fault`.
"""


def test_a_full_bench_run_keeps_the_fault_injection_table_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n## Notes\n\n- old note\n\n" + FAULT_SECTION, encoding="utf-8")
    for _ in range(2):  # a second rewrite reads what the first wrote
        write_markdown(
            [],
            command="python -m bench.run",
            sections={"Notes": ["new note"]},
            services=[],
            elapsed_s=1.0,
            path=path,
        )
    text = path.read_text(encoding="utf-8")
    assert "- new note" in text and "old note" not in text
    assert "| worker SIGKILL | 50 | 12 | 12 | 0 | 30.1 s |" in text
    assert "| --- | --- | --- | --- | --- | --- |" in text
    assert "- Figures from `pytest tests/fault`." in text
    assert text.count("## Fault injection") == 1
