"""Cold start: a fresh process to its first successful answer, and what its imports cost."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import procs

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "adapters" / "aws_lambda" / "src"
LAMBDA_SECRET_ID = "ai-proxy/bench-keys"


@dataclass(slots=True)
class ColdStart:
    entry: str
    samples_ms: list[float] = field(default_factory=list)
    # CPU time (user + system) the process used until its first answer: what the wall time
    # would be on an idle core, so it shows through the noise of a busy machine.
    cpu_ms: list[float] = field(default_factory=list)
    detail: str = ""
    imports: list[tuple[str, float]] = field(default_factory=list)  # (package, self ms)
    import_total_ms: float = 0.0
    error: str | None = None

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.samples_ms) if self.samples_ms else None


def parse_importtime(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """`-X importtime` output -> (total ms, [(top-level package, self ms)] heaviest first)."""
    by_package: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        try:
            micros = float(parts[0])
        except ValueError:
            continue  # the header line
        total += micros
        by_package[parts[-1].strip().split(".")[0]] += micros
    ranked = sorted(by_package.items(), key=lambda item: -item[1])
    return total / 1000, [(name, us / 1000) for name, us in ranked]


def local_server(
    gateway_argv: list[str], config: Path, port: int, body: bytes, reps: int, log_dir: Path
) -> ColdStart:
    """`ai-proxy --config ...` started `reps` times; then once more under -X importtime."""
    result = ColdStart("local server (ai-proxy, uvicorn)")
    argv = [*gateway_argv, "--config", str(config), "--port", str(port)]
    try:
        for _ in range(reps):
            process = procs.Process("coldstart-local", argv, log_dir)
            try:
                seconds = procs.wait_until_answers(process, port, "/v1/messages", body, timeout=30)
                result.cpu_ms.append(process.cpu_seconds() * 1000)
            finally:
                process.stop()
            result.samples_ms.append(seconds * 1000)
        script = [a for a in gateway_argv if a.endswith("ai-proxy")]
        if script:
            prefix = gateway_argv[: gateway_argv.index(script[0])]
            traced = [*prefix, sys.executable, "-X", "importtime", *argv[len(prefix) :]]
            process = procs.Process("coldstart-local-importtime", traced, log_dir)
            try:
                procs.wait_until_answers(process, port, "/v1/messages", body, timeout=30)
            finally:
                process.stop()
            result.import_total_ms, result.imports = parse_importtime(
                process.log_path.read_text(errors="replace")
            )
    except RuntimeError as exc:
        result.error = str(exc)
    return result


def lambda_handler(
    prefix: list[str], upstream_url: str, body_file: Path, reps: int, work: Path, auth: bool
) -> ColdStart:
    """The Mangum handler's init + first invocation, keys read from moto's Secrets Manager."""
    result = ColdStart("Lambda handler (Mangum, secrets from moto)")
    if not (LAMBDA_SRC / "ai_proxy_aws_lambda" / "handler.py").exists():
        result.error = "adapters/aws_lambda not present"
        return result
    port = procs.free_port()
    moto = procs.Process(
        "moto",
        [sys.executable, str(Path(__file__).with_name("secrets_server.py")), str(port)],
        work,
    )
    try:
        procs.wait_for_line(moto, "READY", 30)
        endpoint = f"http://127.0.0.1:{port}"
        aws_env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
        _create_secret(endpoint, aws_env)
        config = work / "bench-generated-lambda.toml"
        config.write_text(
            '[log]\nlevel = "warning"\n'
            + ("[auth]\ndisabled = true\n" if auth else "")
            + f'[providers.gemini]\nbase_url = "{upstream_url}"\n'
            + f'[secrets]\nsource = "aws"\naws_secret_id = "{LAMBDA_SECRET_ID}"\n'
            + f'aws_region = "us-east-1"\naws_endpoint_url = "{endpoint}"\n'
        )
        env = {
            **_clean_env(),
            **aws_env,
            "AI_PROXY_CONFIG": str(config),
            "BENCH_BODY": str(body_file),
            "PYTHONPATH": os.pathsep.join([str(LAMBDA_SRC), os.environ.get("PYTHONPATH", "")]),
        }
        script = str(Path(__file__).with_name("lambda_cold.py"))
        for _ in range(reps):
            env["BENCH_T0"] = repr(time.time())
            started = time.perf_counter()
            done = subprocess.run(
                [*prefix, sys.executable, script],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            elapsed = (time.perf_counter() - started) * 1000
            answer = _last_json(done.stdout)
            if answer is None or answer.get("status") != 200:
                result.error = f"invocation failed: {done.stdout[-500:]} {done.stderr[-1500:]}"
                return result
            # Parent's clock: spawn to the answer line (the child's exit is not counted).
            result.samples_ms.append(min(elapsed, float(answer["total_ms"])))  # type: ignore[arg-type]
            result.cpu_ms.append(float(answer["cpu_ms"]))  # type: ignore[arg-type]
            result.detail = f"init (import + secret) {answer['init_ms']:.0f} ms"
        done = subprocess.run(
            [*prefix, sys.executable, "-X", "importtime", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result.import_total_ms, result.imports = parse_importtime(done.stderr)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        result.error = str(exc)
    finally:
        moto.stop()
    return result


def _clean_env() -> dict[str, str]:
    """The environment without AI_PROXY_* settings of the caller's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AI_PROXY_")}


def _create_secret(endpoint: str, aws_env: dict[str, str]) -> None:
    keys = json.dumps({"gemini": "bench-gemini-key", "openai": "bench-openai-key"})
    code = (
        "import boto3, sys\n"
        f"c = boto3.client('secretsmanager', endpoint_url='{endpoint}', region_name='us-east-1')\n"
        f"c.create_secret(Name='{LAMBDA_SECRET_ID}', SecretString=sys.argv[1])\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, keys], env={**os.environ, **aws_env}, check=True, timeout=60
    )


def _last_json(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                parsed: dict[str, object] = json.loads(line)
            except json.JSONDecodeError:
                return None
            return parsed
    return None
