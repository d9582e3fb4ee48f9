.PHONY: help install demo test lint format schemas migrate bench bench-quick

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*## /\t/'

install:  ## set up .venv with the dev extras
	python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'

demo:  ## run the sample news batch end to end (embedded default)
	bash scripts/demo.sh

test:  ## run the test suite (what CI runs)
	bash scripts/test.sh

lint:  ## ruff check
	.venv/bin/ruff check .

format:  ## ruff format
	.venv/bin/ruff format .

schemas:  ## regenerate schemas/json (a test fails on a stale file)
	.venv/bin/python -m schemas.export

migrate:  ## upgrade the configured database
	.venv/bin/mediaq migrate

bench:  ## run the benchmarks and rewrite BENCHMARKS.md
	.venv/bin/python -m bench.run

bench-quick:  ## the small benchmark run (prints, never fails on figures)
	.venv/bin/python -m bench.run --quick
