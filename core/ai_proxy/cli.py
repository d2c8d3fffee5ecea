"""`ai-proxy --config config.toml`: run the gateway locally with uvicorn."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .config import CONFIG_PATH_ENV, Config, ConfigError
from .factory import load_configured


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hash-key"]:
        from .hash_key import main as hash_key_main

        return hash_key_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="ai-proxy",
        description=__doc__,
        epilog="`ai-proxy hash-key --help`: create a client key and its config entry.",
    )
    parser.add_argument("--config", help="TOML config file (default: $AI_PROXY_CONFIG)")
    parser.add_argument("--host", help="override server.host")
    parser.add_argument("--port", type=int, help="override server.port")
    parser.add_argument("--workers", type=int, help="override server.workers")
    args = parser.parse_args(argv)
    try:
        config = load_configured(args.config)
    except ConfigError as exc:
        print(f"ai-proxy: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from .http.app import create_app, tune_gc_for_serving

    options: dict[str, Any] = {
        "host": args.host or config.server.host,
        "port": args.port or config.server.port,
        "loop": "auto",
        "http": "auto",
        "log_level": config.log.level,
        "log_config": None,  # keep configure_logging's JSON lines for uvicorn's own loggers
        "access_log": False,  # ours is richer (ai_proxy.access)
        "lifespan": "on",
        # After the drain period (ai_proxy.shutdown): how long in-flight streams may go on.
        "timeout_graceful_shutdown": math.ceil(config.server.shutdown_timeout_seconds),
    }
    workers = args.workers or config.server.workers
    if workers > 1:
        return _run_workers(args.config, config, workers, options)
    try:
        app = create_app(config)
    except ConfigError as exc:
        print(f"ai-proxy: {exc}", file=sys.stderr)
        return 2
    tune_gc_for_serving()
    uvicorn.run(app, **options)
    return 0


def _run_workers(
    config_path: str | None, config: Config, workers: int, options: dict[str, Any]
) -> int:
    """uvicorn's process manager; each worker builds its app from the environment."""
    import uvicorn

    if config_path:
        os.environ[CONFIG_PATH_ENV] = str(Path(config_path).resolve())
    created: str | None = None
    if config.metrics.prometheus:
        # prometheus-client's multiprocess mode: each worker writes its values to files here
        # and /metrics adds them up. Files of an earlier run would be added too: clear them.
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory is None:
            directory = created = tempfile.mkdtemp(prefix="ai-proxy-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    try:
        uvicorn.run(
            "ai_proxy.http.app:create_serving_app", factory=True, workers=workers, **options
        )
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
