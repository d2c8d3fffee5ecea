"""The limit stores side by side: `python bench/limits.py` (issue #12's benchmark).

Part 1, the stores alone, in this process on uvloop: one admit + one settle per request (the
store's whole cost to a request), with every limit of a key set, so each script does all its
work. At concurrency 1 the p50 of that pair; at concurrency 64 pairs per second. The Redis
store talks to a local redis-server (Debian's) over loopback, pinned to the other core when
there are two. Medians of --reps repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes.redis_server
sys.path.insert(0, str(Path(__file__).resolve().parent))

import limits_gateway
import redis.asyncio
import uvloop
from ai_proxy.quota.memory import MemoryStore
from ai_proxy.quota.redis import RedisStore
from ai_proxy.quota.store import KeyLimits, LimitStore, Spend, StoreUnavailable

from tests.fakes.redis_server import RedisServer

# Limits no run reaches: every check runs and passes.
LIMITS = KeyLimits(
    requests_per_minute=10**9,
    tokens_per_minute=10**12,
    concurrent_requests=10**6,
    daily_tokens=10**15,
    monthly_tokens=10**15,
    daily_nanousd=10**15,
    monthly_nanousd=10**15,
)
SPEND = Spend("claude-sonnet-4-5", input_tokens=1200, output_tokens=300, nanousd=8_100_000)
CLIENTS = [f"team-{n}" for n in range(8)]
StoreMaker = Callable[[], LimitStore]
TARGET_ADDED_MS = 0.3  # issue #12: redis's added p50 at c=1, and its share of memory's rate
TARGET_SHARE = 0.70


async def one_request(store: LimitStore, client: str) -> bool:
    """Admit and settle; False when the store was unavailable (as the gateway would serve)."""
    lease = uuid.uuid4().hex
    try:
        refusal = await store.admit(client, LIMITS, lease)
        assert refusal is None, refusal
        await store.settle(client, LIMITS, lease, SPEND)
    except StoreUnavailable:
        return False
    return True


async def latency_p50_ms(store: LimitStore, requests: int) -> tuple[float, float]:
    """p50 of admit alone (what precedes the upstream call) and of admit + settle, in ms."""
    admits, pairs = [], []
    for n in range(requests):
        client, lease = CLIENTS[n % len(CLIENTS)], uuid.uuid4().hex
        started = time.perf_counter()
        try:
            assert await store.admit(client, LIMITS, lease) is None
            admitted = time.perf_counter()
            await store.settle(client, LIMITS, lease, SPEND)
        except StoreUnavailable:  # a stall of this shared machine: the sample is dropped
            await asyncio.sleep(1.0)  # the fail-fast window
            continue
        admits.append(admitted - started)
        pairs.append(time.perf_counter() - started)
    return statistics.median(admits) * 1000, statistics.median(pairs) * 1000


async def throughput(
    store: LimitStore, concurrency: int, seconds: float
) -> tuple[float, float, int]:
    """Requests per second, this process's CPU microseconds per request, and the requests
    that met StoreUnavailable (a timeout, or the fail-fast window after one)."""
    done = failed = 0
    stop_at = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal done, failed
        client = CLIENTS[index % len(CLIENTS)]
        while time.perf_counter() < stop_at:
            if await one_request(store, client):
                done += 1
            else:
                failed += 1
                await asyncio.sleep(0.001)  # the fail-fast window: do not spin on it

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    cpu = time.process_time() - cpu_started
    return done / (time.perf_counter() - started), cpu / max(done, 1) * 1e6, failed


async def measure(make: StoreMaker, args: argparse.Namespace) -> dict[str, Any]:
    admits, latencies, rates, cpus, failures = [], [], [], [], []
    for _ in range(args.reps):
        store = make()
        try:
            await latency_p50_ms(store, args.requests // 10)  # warm-up: connections, scripts
            admit, pair = await latency_p50_ms(store, args.requests)
            admits.append(admit)
            latencies.append(pair)
            rate, cpu, failed = await throughput(store, args.concurrency, args.duration)
            rates.append(rate)
            cpus.append(cpu)
            failures.append(failed)
        finally:
            await store.close()
    return {
        "admit_p50_ms_c1": statistics.median(admits),
        "p50_ms_c1": statistics.median(latencies),
        "per_s": statistics.median(rates),
        "cpu_us": statistics.median(cpus),
        "unavailable": failures,
        "runs_p50_ms_c1": latencies,
        "runs_per_s": rates,
    }


async def connected_clients(url: str) -> int:
    client = redis.asyncio.from_url(url)
    try:
        info: dict[str, Any] = await client.info("clients")
    finally:
        await client.aclose()
    return int(info["connected_clients"]) - 1  # less this one


async def stores(args: argparse.Namespace, server: RedisServer) -> dict[str, dict[str, Any]]:
    def memory() -> LimitStore:
        return MemoryStore(lease_seconds=300, retention_days=400)

    def redis_store() -> LimitStore:
        return RedisStore(
            server.url,
            cluster=False,
            key_prefix=f"bench-{uuid.uuid4().hex[:8]}",
            timeout_seconds=0.05,
            lease_seconds=300,
            retention_days=400,
        )

    results = {"memory": await measure(memory, args), "redis": await measure(redis_store, args)}
    pooled = redis_store()
    try:
        await throughput(pooled, args.concurrency, 0.5)
        results["redis"]["connections_at_concurrency"] = await connected_clients(server.url)
    finally:
        await pooled.close()
    return results


def render_stores(results: dict[str, dict[str, Any]], concurrency: int) -> str:
    memory, redis_ = results["memory"], results["redis"]
    added = redis_["admit_p50_ms_c1"] - memory["admit_p50_ms_c1"]
    return "\n".join(
        [
            "Part 1, the stores alone (this process, uvloop):",
            "",
            "| store | admit p50, c=1 | admit + settle p50, c=1 "
            f"| admit + settle /s, c={concurrency} | CPU each |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {row['admit_p50_ms_c1'] * 1000:.1f} us | "
                f"{row['p50_ms_c1'] * 1000:.1f} us | {row['per_s']:,.0f} | "
                f"{row['cpu_us']:.1f} us |"
                for name, row in results.items()
            ),
            "",
            f"redis adds {added * 1000:.1f} us p50 before the upstream call at c=1; at "
            f"c={concurrency} it used {redis_['connections_at_concurrency']} connections; "
            f"requests that met StoreUnavailable per run: {redis_['unavailable']}.",
        ]
    )


def render_gateway(results: dict[str, dict[str, Any]], concurrency: int) -> str:
    memory, redis_ = results["memory"], results["redis"]
    added = redis_["p50_ms_c1"] - memory["p50_ms_c1"]
    share = redis_["per_s"] / memory["per_s"]
    return "\n".join(
        [
            "Part 2, the gateway end to end, small chat, a key with every limit set:",
            "",
            f"| limits.store | p50 at c=1 | req/s at c={concurrency} | gateway CPU per request "
            "| Redis scripts per request |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {row['p50_ms_c1']:.3f} ms | {row['per_s']:,.0f} | "
                f"{row['cpu_ms']:.3f} ms | {row['scripts_per_request']:.2f} |"
                for name, row in results.items()
            ),
            "",
            f"redis adds {added:.3f} ms p50 at c=1 (target <= {TARGET_ADDED_MS} ms: "
            f"{'met' if added <= TARGET_ADDED_MS else 'MISSED'}); at c={concurrency} it serves "
            f"{share:.0%} of memory's rate (target >= {TARGET_SHARE:.0%}: "
            f"{'met' if share >= TARGET_SHARE else 'MISSED'}).",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians reported")
    parser.add_argument("--requests", type=int, default=3000, help="sequential requests per rep")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load run")
    parser.add_argument("--no-gateway", action="store_true", help="part 1 only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as directory, RedisServer(Path(directory)) as server:
        if len(cores) >= 2:  # Redis on one core, this process on the other
            os.sched_setaffinity(server.pid, {cores[1]})
            os.sched_setaffinity(0, {cores[0]})
        print(render_stores(uvloop.run(stores(args, server)), args.concurrency), flush=True)
        if args.no_gateway:
            return
        # The gateway gets the second core now; Redis joins the load generator on the first.
        os.sched_setaffinity(server.pid, {cores[0]})
        gateway = limits_gateway.measure(
            Path(directory), server.url, args.reps, args.duration, args.concurrency
        )
        print("\n" + render_gateway(gateway, args.concurrency))


if __name__ == "__main__":
    main()
