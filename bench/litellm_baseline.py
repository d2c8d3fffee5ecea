"""`--baseline litellm`: the LiteLLM proxy, pinned, in its own virtualenv, on the same upstream.

Never run in CI: the install is large and its start takes seconds. The virtualenv
(bench/.venv-litellm) is created on first use. LiteLLM serves Anthropic's /v1/messages itself
(its "unified" endpoint), so it is sent exactly the gateway's requests, and routes them to the
same fake upstream: the ratios in the table compare the two on one machine, in one run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import procs
from scenarios import API_KEY, MODELS, Request, anthropic_body

if TYPE_CHECKING:
    from run import Bench

PIN = "litellm[proxy]==1.76.3"
VENV = Path(__file__).resolve().parent / ".venv-litellm"


def ensure_installed() -> Path:
    litellm = VENV / "bin" / "litellm"
    if litellm.exists():
        return litellm
    print(f"[bench] installing {PIN} into {VENV} (once)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", PIN], check=True)
    return litellm


def _config(upstream: str, providers: list[str]) -> str:
    entries = {
        "gemini": f"gemini/{MODELS['gemini']}",
        "openai": f"openai/{MODELS['openai']}",
    }
    # LiteLLM appends ":generateContent" to a Gemini api_base: it must name the model itself.
    bases = {"gemini": f"{upstream}/v1beta/models/{MODELS['gemini']}", "openai": f"{upstream}/v1"}
    lines = ["model_list:"]
    for provider in providers:
        lines += [
            f"  - model_name: {MODELS[provider]}",
            "    litellm_params:",
            f"      model: {entries[provider]}",
            f"      api_key: {API_KEY}",
            f"      api_base: {bases[provider]}",
        ]
    lines += ["litellm_settings:", "  drop_params: true", "  telemetry: false"]
    # One failed call must not bench the deployment for the rest of the run (its default
    # cooldown answers 429 to everything after a few errors).
    lines += ["router_settings:", "  disable_cooldowns: true", "  num_retries: 0"]
    return "\n".join(lines) + "\n"


def start(bench: Bench, upstream: str, providers: list[str]) -> tuple[int, procs.Process]:
    litellm = ensure_installed()
    config = bench.work / "litellm-config.yaml"
    config.write_text(_config(upstream, providers))
    port = procs.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AI_PROXY_", "PYTHON"))},
        # Never reach out: the model price map ships inside the package.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    argv = [
        *bench.pin.gateway_prefix(),
        str(litellm),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    process = bench.start("litellm", argv, env=env)
    body = anthropic_body(providers[0], "small", False)
    seconds = procs.wait_until_answers(process, port, "/v1/messages", body, timeout=180)
    print(f"[bench] litellm answering after {seconds:.1f} s", file=sys.stderr, flush=True)
    return port, process


def requests(work: Path, kinds: list[Any]) -> dict[tuple[str, Any], Request]:
    """LiteLLM gets the gateway's requests (Anthropic Messages) without `cache_control`.

    Given cache_control, LiteLLM first creates a Gemini context cache (`cachedContents`), an
    extra upstream call our gateway never makes; without it both do the same upstream work."""
    out = {}
    for provider, body, stream in kinds:
        name = f"{provider}-{body}-{'stream' if stream else 'json'}"
        payload = orjson.loads((work / "bodies" / f"{name}.anthropic.json").read_bytes())
        path = work / "bodies" / f"{name}.litellm.json"
        path.write_bytes(orjson.dumps(_without_cache_control(payload)))
        out["litellm", (provider, body, stream)] = Request(
            "/v1/messages", {"anthropic-version": "2023-06-01"}, path
        )
    return out


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    return value
