"""Drive one target with one request at one concurrency: wrk (preferred) or the Python client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import client
from scenarios import Request

LUA = Path(__file__).with_name("post.lua")


@dataclass(slots=True)
class Run:
    requests: int
    errors: int
    seconds: float
    p50: float  # seconds
    p99: float
    ttfe_p50: float | None = None
    ttfe_p99: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    port: int, request: Request, concurrency: int, seconds: float, prefix: list[str]
) -> Run:
    headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items() if k != "content-type")
    env = {**os.environ, "BENCH_BODY": str(request.body_file), "BENCH_HEADERS": headers}
    argv = [
        *prefix,
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{request.path}",
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.split(" ", 1)[1])
    errors = sum(data[k] for k in ("connect", "read", "write", "timeout", "status"))
    return Run(
        requests=data["requests"],
        errors=errors,
        seconds=data["duration_us"] / 1e6,
        p50=data["p50_us"] / 1e6,
        p99=data["p99_us"] / 1e6,
    )


def run_python(port: int, request: Request, concurrency: int, seconds: float) -> Run:
    raw = client.raw_request("127.0.0.1", port, request.path, request.body(), request.headers)
    result = _run_async(client.run_load("127.0.0.1", port, raw, concurrency, seconds))
    ttfe = result.ttfes
    return Run(
        requests=result.requests,
        errors=result.errors,
        seconds=result.seconds,
        p50=client.percentile(result.latencies, 50),
        p99=client.percentile(result.latencies, 99),
        ttfe_p50=client.percentile(ttfe, 50) if ttfe else None,
        ttfe_p99=client.percentile(ttfe, 99) if ttfe else None,
    )


def _run_async(coroutine):  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
