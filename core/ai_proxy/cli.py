"""`ai-proxy --config config.toml`: run the gateway locally with uvicorn."""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-proxy", description=__doc__)
    parser.add_argument("--config", help="TOML config file (default: $AI_PROXY_CONFIG)")
    parser.add_argument("--host", help="override server.host")
    parser.add_argument("--port", type=int, help="override server.port")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"ai-proxy: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from .http.app import create_app

    try:
        app = create_app(config)
    except ConfigError as exc:
        print(f"ai-proxy: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=args.host or config.server.host,
        port=args.port or config.server.port,
        loop="auto",
        http="auto",
        log_level=config.log.level,
        access_log=False,
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
