"""The scheduler Deployment runs a command the CLI has, as one replica."""

from __future__ import annotations

from pathlib import Path

import yaml

from producer.cli import build_parser, cmd_scheduler

MANIFEST = Path(__file__).resolve().parents[2] / "k8s" / "base" / "scheduler.yaml"


def test_the_scheduler_deployment_runs_mediaq_scheduler_once() -> None:
    deployment = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert deployment["spec"]["replicas"] == 1
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["mediaq", "scheduler"]
    assert build_parser().parse_args(container["command"][1:]).handler is cmd_scheduler
