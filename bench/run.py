"""The benchmark, in one command: `python bench/run.py` (docs/performance.md explains the table).

1. starts the fake upstream (bench/upstream.py) and measures it directly: the direct rate and
   latency are the floor every gateway number is compared with, in the same run;
2. starts the gateway as a real subprocess (`ai-proxy --config bench-generated.toml`), checks
   that it answers each scenario correctly through each client door (`--ingress`: /v1/messages,
   Chat Completions, Responses, Gemini), then drives it with wrk (Python client if wrk is
   missing) at each concurrency, alternating direct and gateway runs, `--reps` times;
3. times the first SSE event of streams with bench/client.py (wrk cannot);
4. measures cold starts: the local server, and the Lambda handler with secrets from moto;
5. prints the table (Markdown) and writes every raw number to bench/.out/results.json.

Pinning (2+ cores): the gateway runs alone on core 1; wrk, the fake upstream and this script
share core 0. `--quick` is a smoke run of a few seconds; `--baseline litellm` adds a LiteLLM
proxy (its own virtualenv, bench/.venv-litellm) measured the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import client
import coldstart
import loadgen
import procs
import report
from scenarios import (
    API_KEY,
    INGRESSES,
    Ingress,
    Request,
    Scenario,
    anthropic_body,
    available_providers,
    upstream_request,
)

BENCH = Path(__file__).resolve().parent
Kind = tuple[str, str, bool]  # Scenario.kind


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: short, one repetition")
    parser.add_argument("--providers", help="comma list (default: every translating provider)")
    parser.add_argument("--bodies", default="small,agent")
    parser.add_argument("--modes", default="json,stream")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument(
        "--ingress",
        default="messages",
        help="comma list of the gateway's client doors to measure, each next to the others in "
        f"the same run: {', '.join(INGRESSES)} (the same conversations in each format)",
    )
    parser.add_argument("--duration", type=float, help="seconds per load run (default 3)")
    parser.add_argument("--reps", type=int, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per request kind")
    parser.add_argument("--ttfe-concurrency", default="1,8")
    parser.add_argument("--ttfe-duration", type=float, help="seconds per TTFE run (default 2)")
    parser.add_argument("--cold-reps", type=int, help="cold starts per entry (default 5)")
    parser.add_argument("--no-cold", action="store_true", help="skip cold starts")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument(
        "--first-gap",
        type=float,
        default=0.001,
        help="fake upstream: seconds between a stream's first event and the rest",
    )
    parser.add_argument(
        "--event-gap",
        type=float,
        default=0.0,
        help="fake upstream: seconds between the later events, each its own write (default 0: "
        "one write); a gap makes every event its own upstream read, as token streams arrive",
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="comma list of baselines measured in the same run: floor (a minimal uvicorn + "
        "aiohttp pass-through proxy), floor-raw (the same with a minimal httptools client), "
        "litellm (LiteLLM proxy in bench/.venv-litellm)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="record the gateway with py-spy during the load runs"
    )
    parser.add_argument("--out", type=Path, default=BENCH / ".out", help="work directory")
    parser.add_argument("--report", type=Path, help="only print the table of a results.json")
    args = parser.parse_args(argv)
    unknown = sorted(set(words(args.ingress)) - set(INGRESSES))
    if unknown or not words(args.ingress):
        parser.error(f"--ingress: expected some of {', '.join(INGRESSES)}, got {args.ingress!r}")
    quick = args.quick
    args.duration = args.duration or (1.0 if quick else 3.0)
    args.reps = args.reps or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (0.2 if quick else 1.0)
    args.ttfe_duration = args.ttfe_duration or (min(args.duration, 0.3) if quick else 2.0)
    args.cold_reps = args.cold_reps or (1 if quick else 5)
    return args


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def words(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def auth_section() -> bool:
    """True when the gateway has an `[auth]` section with `disabled` (set it in the config)."""
    from ai_proxy.config import Config

    auth = Config.model_fields.get("auth")
    annotation = getattr(auth, "annotation", None) if auth else None
    return bool(annotation is not None and "disabled" in getattr(annotation, "model_fields", {}))


def gateway_config(path: Path, port: int, upstream: str, auth: bool) -> None:
    path.write_text(
        "# Written by bench/run.py: the gateway under test, pointed at the fake upstream.\n"
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        # Production's default level: whatever the gateway logs per request is measured too.
        '[log]\nlevel = "info"\n'
        + ("[auth]\ndisabled = true\n" if auth else "")
        + f'[providers.gemini]\nbase_url = "{upstream}"\napi_key = "{API_KEY}"\n'
        + f'[providers.openai]\nbase_url = "{upstream}/v1"\napi_key = "{API_KEY}"\n'
    )


class RssSampler:
    """Samples a process's RSS every 20 ms while load runs: the peak under load."""

    def __init__(self, process: procs.Process) -> None:
        self.process = process
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, self.process.memory_mb()[0])
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.out
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "bodies").mkdir(exist_ok=True)
        self.pin = procs.Pinning(not args.no_pin)
        self.use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and loadgen.wrk_available())
        if args.loadgen == "wrk" and not loadgen.wrk_available():
            raise SystemExit("wrk is not installed (apt-get install wrk), or use --loadgen python")
        self.processes: list[procs.Process] = []
        self.results: dict[str, Any] = {}

    # -- processes -------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> procs.Process:
        process = procs.Process(name, argv, self.work, env=env)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    # -- measurement -----------------------------------------------------------------------

    def load(self, port: int, request: Request, concurrency: int, seconds: float) -> loadgen.Run:
        # wrk takes whole seconds; shorter runs (smoke tests) use the Python client.
        if self.use_wrk and seconds >= 1:
            return loadgen.run_wrk(port, request, concurrency, seconds, self.pin.client_prefix())
        return loadgen.run_python(port, request, concurrency, seconds)

    def run(self) -> dict[str, Any]:
        args = self.args
        self.pin.pin_self()
        providers = words(args.providers) if args.providers else available_providers()
        missing = sorted(set(providers) - set(available_providers()))
        if missing:
            raise SystemExit(f"provider(s) not served by this build: {', '.join(missing)}")
        scenarios = [
            Scenario(p, b, m == "stream", c)
            for p in providers
            for b in words(args.bodies)
            for m in words(args.modes)
            for c in ints(args.concurrency)
        ]
        kinds = list(dict.fromkeys(s.kind for s in scenarios))
        self.results = {
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "settings": {
                "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
                "duration_s": args.duration,
                "reps": args.reps,
                "loadgen": "wrk" if self.use_wrk else "python (bench/client.py)",
                "pinning": self.pin.describe(),
                "upstream_first_gap_ms": args.first_gap * 1000,
                "upstream_event_gap_ms": args.event_gap * 1000,
                "ingresses": words(args.ingress),
            },
            "scenarios": [],
        }
        try:
            upstream_port = self.start_upstream()
            upstream = f"http://127.0.0.1:{upstream_port}"
            ingresses = [INGRESSES[name] for name in words(args.ingress)]
            requests = self.prepare_requests(kinds, upstream, ingresses)
            gateway, gateway_port = self.start_gateway(upstream)
            checks = self.check_ingresses(gateway_port, ingresses, kinds, requests)
            measured = {i.name: i.target for i in ingresses if i.name in checks}
            targets: dict[str, tuple[int, procs.Process | None]] = {
                "direct": (upstream_port, None),
                **{target: (gateway_port, gateway) for target in measured.values()},
            }
            for baseline in words(args.baseline):
                targets[baseline] = self.start_baseline(baseline, upstream, providers, kinds)
                if baseline.startswith("floor"):
                    for kind in kinds:
                        requests[baseline, kind] = requests["direct", kind]
                else:
                    import litellm_baseline

                    requests.update(litellm_baseline.requests(self.work, kinds))
            self.warm_up(kinds, targets, requests)
            profiler = self.start_profiler(gateway) if args.profile else None
            rows = self.measure(scenarios, targets, requests, checks, measured)
            if profiler is not None:
                self.stop_profiler(profiler)
            self.measure_ttfe(rows, targets, requests)
            self.results["gateway_peak_rss_mb"] = gateway.memory_mb()[1]
            self.results["gateway_libraries"] = sorted(gateway.loaded_libraries())
            for baseline in words(args.baseline):
                process = targets[baseline][1]
                if process is not None:
                    self.results.setdefault("baseline_peak_rss_mb", {})[baseline] = (
                        process.memory_mb()[1]
                    )
            gateway.stop()
            if not args.no_cold:
                self.results["cold_starts"] = self.cold_starts(upstream)
        finally:
            self.stop_all()
        return self.results

    def start_upstream(self) -> int:
        argv = [
            *self.pin.client_prefix(),
            sys.executable,
            str(BENCH / "upstream.py"),
            "--port",
            "0",
            "--first-gap",
            str(self.args.first_gap),
            "--event-gap",
            str(self.args.event_gap),
        ]
        process = self.start("upstream", argv)
        return int(procs.wait_for_line(process, "PORT", 30).split()[1])

    def prepare_requests(
        self, kinds: list[Kind], upstream: str, ingresses: list[Ingress]
    ) -> dict[tuple[str, Kind], Request]:
        requests = {}
        for kind in kinds:
            provider, body, stream = kind
            name = f"{provider}-{body}-{'stream' if stream else 'json'}"
            for ingress in ingresses:
                path, gateway_body = ingress.request(provider, body, stream)
                gateway_file = self.work / "bodies" / f"{name}.{ingress.name}.json"
                gateway_file.write_bytes(gateway_body)
                requests[ingress.target, kind] = Request(path, ingress.headers, gateway_file)
            path, headers, direct_body = upstream_request(
                provider, body, stream, _base(upstream, provider)
            )
            direct_file = self.work / "bodies" / f"{name}.{provider}.json"
            direct_file.write_bytes(direct_body)
            requests["direct", kind] = Request(path, headers, direct_file)
        return requests

    def start_gateway(self, upstream: str) -> tuple[procs.Process, int]:
        port = procs.free_port()
        config = self.work / "bench-generated.toml"
        gateway_config(config, port, upstream, auth_section())
        self.gateway_argv = [*self.pin.gateway_prefix(), *procs.python_script("ai-proxy")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AI_PROXY_")}
        process = self.start("gateway", [*self.gateway_argv, "--config", str(config)], env=env)
        body = anthropic_body(available_providers()[0], "small", False)
        startup = procs.wait_until_answers(process, port, "/v1/messages", body)
        log(f"gateway pid {process.pid} answering on :{port} after {startup * 1000:.0f} ms")
        return process, port

    def start_baseline(
        self, name: str, upstream: str, providers: list[str], kinds: list[Any]
    ) -> tuple[int, procs.Process]:
        """Another proxy measured like the gateway, on the gateway's core."""
        if name in ("floor", "floor-raw"):
            port = procs.free_port()
            argv = [
                *self.pin.gateway_prefix(),
                sys.executable,
                str(BENCH / "floor_proxy.py"),
                upstream,
                str(port),
                "raw" if name == "floor-raw" else "aiohttp",
            ]
            process = self.start(name, argv)
            provider, body, stream = kinds[0]
            path, _, direct_body = upstream_request(
                provider, body, stream, _base(upstream, provider)
            )
            procs.wait_until_answers(process, port, path, direct_body)
            return port, process
        if name == "litellm":
            import litellm_baseline

            return litellm_baseline.start(self, upstream, providers)
        raise SystemExit(f"unknown baseline {name!r} (floor, floor-raw, litellm)")

    def check_ingresses(
        self, port: int, ingresses: list[Ingress], kinds: list[Kind], requests: dict[Any, Request]
    ) -> dict[str, dict[Kind, str]]:
        """Each client door's verdict on each request. A door that answers every request 404
        is not in this build of the gateway: it is left out of the run, and said so."""
        checks = {}
        for ingress in ingresses:
            verdicts = {kind: self.check(port, ingress, kind, requests) for kind in kinds}
            missing = all(verdict.startswith("HTTP 404") for verdict in verdicts.values())
            if missing and ingress.name != "messages":
                log(f"ingress {ingress.name}: skipped, the gateway has no such route (HTTP 404)")
                continue
            checks[ingress.name] = verdicts
        return checks

    def check(self, port: int, ingress: Ingress, kind: Kind, requests: dict[Any, Request]) -> str:
        request = requests[ingress.target, kind]
        raw = client.raw_request("127.0.0.1", port, request.path, request.body(), request.headers)
        response = loadgen._run_async(client.request_once("127.0.0.1", port, raw))
        verdict = ingress.check(kind[2], response.status, response.body)
        log(f"check {'/'.join(map(str, kind))} via {ingress.name}: {verdict}")
        return verdict

    def warm_up(
        self, kinds: list[Any], targets: dict[str, Any], requests: dict[Any, Request]
    ) -> None:
        if self.args.warmup <= 0:
            return
        for kind in kinds:
            for name, (port, _) in targets.items():
                if name != "direct":
                    self.load(port, requests[name, kind], 8, self.args.warmup)

    def measure(
        self,
        scenarios: list[Scenario],
        targets: dict[str, tuple[int, procs.Process | None]],
        requests: dict[Any, Request],
        checks: dict[str, dict[Kind, str]],
        ingresses: dict[str, str],
    ) -> list[dict[str, Any]]:
        """Each scenario's runs of every target; `ingresses` maps each client door measured
        to its target's name."""
        rows = []
        for s in scenarios:
            verdicts = {name: checks[name][s.kind] for name in ingresses}
            failed = [f"{name}: {v}" for name, v in verdicts.items() if v != "ok"]
            rows.append(
                {
                    **asdict(s),
                    "name": str(s),
                    "mode": s.mode,
                    "check": failed[0] if failed else "ok",
                    "checks": verdicts,
                    "ingresses": ingresses,
                    "runs": {},
                    "cpu_ms_per_request": {},
                    "peak_rss_mb": {},
                }
            )
        for rep in range(self.args.reps):
            for scenario, row in zip(scenarios, rows, strict=True):
                for name, (port, process) in targets.items():
                    row["runs"].setdefault(name, [])
                    before = process.cpu_seconds() if process else 0.0
                    sampler = RssSampler(process) if process else contextlib.nullcontext()
                    with sampler:
                        result = self.load(
                            port,
                            requests[name, scenario.kind],
                            scenario.concurrency,
                            self.args.duration,
                        )
                    row["runs"][name].append(asdict(result) | {"rps": result.rps})
                    if process is not None and result.requests:
                        cpu = (process.cpu_seconds() - before) * 1000 / result.requests
                        row["cpu_ms_per_request"].setdefault(name, []).append(cpu)
                        peak = row["peak_rss_mb"].get(name, 0.0)
                        row["peak_rss_mb"][name] = max(peak, sampler.peak)  # type: ignore[union-attr]
                    log(
                        f"rep {rep + 1}/{self.args.reps} {scenario} {name}: "
                        f"{result.rps:,.0f} req/s p50 {result.p50 * 1000:.2f} ms "
                        f"p99 {result.p99 * 1000:.2f} ms errors {result.errors}"
                    )
        self.results["scenarios"] = rows
        return rows

    def measure_ttfe(
        self, rows: list[dict[str, Any]], targets: dict[str, Any], requests: dict[Any, Request]
    ) -> None:
        """Time to first SSE event, with the Python client (wrk only sees whole responses)."""
        wanted = set(ints(self.args.ttfe_concurrency))
        for rep in range(self.args.reps):
            for row in rows:
                if not row["stream"] or row["concurrency"] not in wanted:
                    continue
                kind = (row["provider"], row["body"], row["stream"])
                for name, (port, _) in targets.items():
                    run = loadgen.run_python(
                        port, requests[name, kind], row["concurrency"], self.args.ttfe_duration
                    )
                    row.setdefault("ttfe", {}).setdefault(name, []).append(
                        {
                            "p50": run.ttfe_p50,
                            "p99": run.ttfe_p99,
                            "stream_p50": run.p50,
                            "requests": run.requests,
                            "errors": run.errors,
                        }
                    )
                    if run.ttfe_p50 is not None:
                        log(
                            f"ttfe rep {rep + 1} {row['name']} {name}: "
                            f"p50 {run.ttfe_p50 * 1000:.2f} ms, stream {run.p50 * 1000:.2f} ms"
                        )

    def cold_starts(self, upstream: str) -> list[dict[str, Any]]:
        provider = available_providers()[0]
        body = anthropic_body(provider, "small", False)
        port = procs.free_port()
        config = self.work / "bench-generated-cold.toml"
        gateway_config(config, port, upstream, auth_section())
        results = [
            coldstart.local_server(
                self.gateway_argv, config, port, body, self.args.cold_reps, self.work
            )
        ]
        log(f"cold start local: {results[-1].samples_ms} {results[-1].error or ''}")
        body_file = self.work / "bodies" / "lambda-small.json"
        body_file.write_bytes(anthropic_body("gemini", "small", False))
        results.append(
            coldstart.lambda_handler(
                self.pin.gateway_prefix(),
                upstream,
                body_file,
                self.args.cold_reps,
                self.work,
                auth_section(),
            )
        )
        log(f"cold start lambda: {results[-1].samples_ms} {results[-1].error or ''}")
        return [asdict(r) | {"median_ms": r.median_ms} for r in results]

    # -- profiling -------------------------------------------------------------------------

    def start_profiler(self, gateway: procs.Process) -> procs.Process:
        output = self.work / "profile.txt"
        argv = [
            *self.pin.client_prefix(),
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(gateway.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            str(output),
        ]
        return self.start("py-spy", argv)

    def stop_profiler(self, profiler: procs.Process) -> None:
        profiler.popen.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.popen.wait(30)
        output = self.work / "profile.txt"
        if output.exists():
            summary = report.profile_summary(output.read_text())
            (self.work / "profile-summary.txt").write_text(summary)
            log(f"profile: {output} (summary in profile-summary.txt)")


def _base(upstream: str, provider: str) -> str:
    return f"{upstream}/v1" if provider == "openai" else upstream


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@contextlib.contextmanager
def _interrupts_stop(bench: Bench) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        bench.stop_all()
        raise SystemExit(130) from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print(report.render(json.loads(args.report.read_text())))
        return 0
    bench = Bench(args)
    with _interrupts_stop(bench):
        results = bench.run()
    results["summary"] = report.summarise(results)
    path = args.out / "results.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    print(report.render(results))
    log(f"raw numbers: {path}")
    failed = [row["name"] for row in results["scenarios"] if row["check"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
