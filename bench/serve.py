"""Bench-only API entry: migrate, register the noop_chain template, serve with uvicorn.

Usage: `python -m bench.serve --port 8123` with the MEDIAQ_* environment of the setup. Served like
`producer.embedded.ApiThread` (uvicorn, log level warning, so no access log), without the
reconciler thread: the accept bench leaves thousands of stage runs queued on purpose.
"""

from __future__ import annotations

import argparse

import uvicorn

from bench.noop_template import register_template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    register_template()
    from producer.embedded import local_api_key
    from producer.main import create_app
    from producer.migrate import upgrade
    from producer.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    local_api_key(settings)  # the clients read it from <data dir>/local-api-key
    # keep-alive longer than any poll gap: a connection closed under a request is a bench error
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_keep_alive=60,
    )


if __name__ == "__main__":
    main()
