"""Part 2 of bench/limits.py: the gateway end to end with a key limit, store=memory vs redis.

The harness is bench/run.py's: the fake upstream (bench/upstream.py) and the load generator
(wrk, else the Python client) on one core, the gateway on the other. Two gateways, identical
but for `limits.store`, each with one client key whose every limit is set too high to refuse
(so each request is admitted and settled in full); Redis is a local redis-server, on the
load generator's core. Repetitions alternate the two, so drift hits both alike.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import loadgen
import procs
import redis
from scenarios import API_KEY, Request, anthropic_body, available_providers, check_answer

BENCH = Path(__file__).resolve().parent
CLIENT_KEY = "bench-limits-client-key"
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": CLIENT_KEY}
HIGH = 10**9  # a limit no run reaches


def gateway_config(path: Path, port: int, upstream: str, store: str, redis_url: str) -> None:
    digest = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()
    path.write_text(
        "# Written by bench/limits.py: a gateway with one limited key, at the fake upstream.\n"
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        '[log]\nlevel = "info"\n'
        f'[[auth.client_keys]]\nname = "bench"\nsha256 = "{digest}"\n'
        f'[limits]\nstore = "{store}"\nredis_url = "{redis_url}"\n'
        f"requests_per_minute = {HIGH}\ntokens_per_minute = {HIGH}\n"
        f"concurrent_requests = {HIGH}\ndaily_tokens = {HIGH}\nmonthly_usd = {HIGH}.0\n"
        f'[providers.gemini]\nbase_url = "{upstream}"\napi_key = "{API_KEY}"\n'
        f'[providers.openai]\nbase_url = "{upstream}/v1"\napi_key = "{API_KEY}"\n'
    )


def scripts_run(redis_url: str) -> int:
    """EVALSHA calls Redis has answered so far."""
    client = redis.Redis.from_url(redis_url)
    try:
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def wait_until_served(process: procs.Process, port: int, body: bytes, timeout: float = 60) -> None:
    """Poll with a real, keyed request until it gets a checked 200."""
    deadline = time.perf_counter() + timeout
    last = ""
    while time.perf_counter() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/v1/messages", body, HEADERS)
            response = connection.getresponse()
            last = check_answer(False, response.status, response.read())
            if last == "ok":
                return
        except OSError as exc:
            last = repr(exc)
        finally:
            connection.close()
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not serve in {timeout} s ({last})")


def measure(
    work: Path, redis_url: str, reps: int, seconds: float, concurrency: int
) -> dict[str, dict[str, Any]]:
    """{store: {p50_ms_c1, per_s, runs...}} for store in memory, redis."""
    pin = procs.Pinning(True)
    pin.pin_self()
    processes: list[procs.Process] = []
    use_wrk = loadgen.wrk_available()

    def load(port: int, request: Request, clients: int) -> loadgen.Run:
        if use_wrk:
            return loadgen.run_wrk(port, request, clients, seconds, pin.client_prefix())
        return loadgen.run_python(port, request, clients, seconds)

    try:
        upstream_argv = [*pin.client_prefix(), sys.executable, str(BENCH / "upstream.py")]
        upstream_process = procs.Process("upstream", [*upstream_argv, "--port", "0"], work)
        processes.append(upstream_process)
        upstream_port = int(procs.wait_for_line(upstream_process, "PORT", 30).split()[1])
        upstream = f"http://127.0.0.1:{upstream_port}"
        provider = available_providers()[0]
        body = anthropic_body(provider, "small", False)
        body_file = work / "limits-small.json"
        body_file.write_bytes(body)
        request = Request("/v1/messages", HEADERS, body_file)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AI_PROXY_")}
        ports = {}
        for store in ("memory", "redis"):
            port = procs.free_port()
            config = work / f"limits-{store}.toml"
            gateway_config(config, port, upstream, store, redis_url)
            argv = [
                *pin.gateway_prefix(),
                *procs.python_script("ai-proxy"),
                "--config",
                str(config),
            ]
            process = procs.Process(f"gateway-{store}", argv, work, env=env)
            processes.append(process)
            wait_until_served(process, port, body)
            ports[store] = (port, process)
        runs: dict[str, dict[str, list[float]]] = {
            store: {"p50_ms_c1": [], "per_s": [], "cpu_ms": [], "scripts_per_request": []}
            for store in ports
        }
        for _ in range(reps):
            for store, (port, process) in ports.items():
                load(port, request, 8)  # warm: connections, pools, scripts
                runs[store]["p50_ms_c1"].append(load(port, request, 1).p50 * 1000)
                before, scripts_before = process.cpu_seconds(), scripts_run(redis_url)
                result = load(port, request, concurrency)
                scripts = scripts_run(redis_url) - scripts_before
                runs[store]["per_s"].append(result.rps)
                cpu = (process.cpu_seconds() - before) * 1000 / max(result.requests, 1)
                runs[store]["cpu_ms"].append(cpu)
                # 2 (admit, settle) proves the redis gateway really used Redis throughout.
                runs[store]["scripts_per_request"].append(scripts / max(result.requests, 1))
                if result.errors:
                    raise RuntimeError(f"{store}: {result.errors} errors at c={concurrency}")
    finally:
        for process in reversed(processes):
            process.stop()
    return {
        store: {name: statistics.median(values) for name, values in found.items()}
        | {f"runs_{name}": values for name, values in found.items()}
        for store, found in runs.items()
    }
