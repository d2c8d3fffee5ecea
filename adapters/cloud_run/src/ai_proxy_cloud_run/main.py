"""Container entry for Cloud Run (and the same image on Kubernetes or Fargate): ai-proxy on $PORT.

    python -m ai_proxy_cloud_run                 # = ai-proxy --port $PORT (8080 if unset)
    uvicorn ai_proxy_cloud_run.main:app --port $PORT   # the bare ASGI app under any server

Keys come from Secret Manager when `AI_PROXY_SECRETS__SOURCE=gcp` (read in the ASGI lifespan
startup, refreshed in the background), or from env variables that `gcloud run deploy
--set-secrets AI_PROXY_PROVIDERS__GEMINI__API_KEY=gemini-api-key:latest` injects.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ai_proxy import cli


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    port = os.environ.get("PORT")
    if port and "--port" not in argv:
        argv = ["--port", port, *argv]
    return cli.main(argv)


def __getattr__(name: str) -> Any:
    """`app` is built on first access (by uvicorn), so importing this module builds nothing."""
    if name == "app":
        from ai_proxy.http.app import create_app

        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
