"""Bench-only worker entry: a real mediaq Celery worker that also runs the noop stage kind.

Usage: `python -m bench.noop_worker --concurrency 2` with the MEDIAQ_* environment of the setup.
"""

from __future__ import annotations

import argparse

from bench.noop_stage import register_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", default="cpu,gpu")
    parser.add_argument("--concurrency", type=int, default=0)
    args = parser.parse_args()
    register_stage()  # before workers.app is imported (run_worker imports it)
    from producer.embedded import run_worker
    from producer.settings import get_settings

    run_worker(get_settings(), queues=args.queues, concurrency=args.concurrency)


if __name__ == "__main__":
    main()
