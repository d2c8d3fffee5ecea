"""Cold start with each cloud provider enabled: a fresh process to a gateway whose platform
credentials are resolved, against the local fakes of each cloud's credential source.

    .venv/bin/python bench/cloud_cold.py [--reps 7]

Each scenario runs `--reps` fresh processes (`python -c`, this repository on the path) that
import the gateway, build it from a config enabling one cloud provider and resolve its
credentials (`Gateway.load_identities`: the cloud library imported, one token fetched), which
is what a serverless cold start adds before its first request. "none" is the same with only a
key-based provider: the figure the others are measured against. Wall time is from the parent's
clock just before the child starts to the child's clock once it is ready; CPU is the child's
own user + system time. Medians are printed, one line per scenario, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.azure_identity_endpoint import FakeManagedIdentity  # noqa: E402
from tests.fakes.gcp_metadata import FakeGoogleAuth  # noqa: E402

CHILD = """
import json, os, resource, sys, time
from ai_proxy.config import Config
from ai_proxy.gateway import Gateway
gateway = Gateway(Config.model_validate(json.loads(os.environ["BENCH_CONFIG"])))
gateway.load_identities()
ready = time.time()
assert all(p.identity is None or p.identity.usable() for p in gateway.providers.values())
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"ready": ready, "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
                  "modules": len(sys.modules)}))
"""


@contextmanager
def scenarios(work: Path) -> Iterator[dict[str, tuple[dict[str, object], dict[str, str]]]]:
    """name -> (providers table, environment) for each cloud, its credential fake serving."""
    with ExitStack() as stack:
        google = stack.enter_context(FakeGoogleAuth())
        identity = FakeManagedIdentity()
        stack.enter_context(identity.serve())
        gcloud = work / "gcloud"
        gcloud.mkdir()
        yield {
            "none": ({"gemini": {"api_key": "bench-key"}}, {}),
            # Lambda's case: the role's credentials are in the environment.
            "bedrock": (
                {"bedrock": {"enabled": True, "region": "us-east-1"}},
                {
                    "AWS_ACCESS_KEY_ID": "AKIDBENCHEXAMPLE",
                    "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
                    "AWS_SESSION_TOKEN": "bench-session-token",
                    "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true",
                },
            ),
            # Cloud Run's case: the metadata server hands out the service account's token.
            "vertex": (
                {"vertex": {"enabled": True, "project": google.project}},
                {
                    "GCE_METADATA_HOST": google.host,
                    "GCE_METADATA_IP": google.host,
                    "CLOUDSDK_CONFIG": str(gcloud),
                },
            ),
            # Azure Functions' case: the App Service managed identity endpoint.
            "azure_openai": (
                {"azure_openai": {"enabled": True, "resource": "bench"}},
                identity.environ(),
            ),
        }


def run(table: dict[str, object], extra_env: dict[str, str], reps: int) -> dict[str, object]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "GOOGLE_", "GCE_", "IDENTITY_", "AI_PROXY_", "MSI_"))
        # A deployment runs from compiled bytecode: the first (uncounted) run writes it.
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra_env)
    env["BENCH_CONFIG"] = json.dumps({"providers": table, "auth": {"disabled": True}})
    env["PYTHONPATH"] = str(ROOT / "core")
    walls, cpus, modules = [], [], 0
    for rep in range(reps + 1):
        started = time.time()
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if rep == 0:
            continue  # the bytecode is written now
        walls.append((result["ready"] - started) * 1000)
        cpus.append(result["cpu_ms"])
        modules = result["modules"]
    return {
        "wall_ms": round(statistics.median(walls), 1),
        "cpu_ms": round(statistics.median(cpus), 1),
        "modules": modules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, scenarios(Path(work)) as cases:
        baseline: float | None = None
        for name, (table, env) in cases.items():
            figures = run(table, env, args.reps)
            wall = float(str(figures["wall_ms"]))
            baseline = wall if baseline is None else baseline
            print(json.dumps({"scenario": name, **figures, "added_ms": round(wall - baseline, 1)}))


if __name__ == "__main__":
    main()
