"""Regression tests for per-request costs found with bench/ (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

import orjson
from ai_proxy.config import Config
from ai_proxy.gateway import CoreRequest, Gateway
from ai_proxy.providers.base import UpstreamRequest

GEMINI_ANSWER = orjson.dumps(
    {
        "candidates": [
            {
                "content": {"parts": [{"text": "hello"}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
    }
)


class _Response:
    def __init__(self) -> None:
        self.status = 200
        self.headers = {"content-type": "application/json"}
        self.released = False

    async def read(self) -> bytes:
        return GEMINI_ANSWER

    async def read_chunk(self) -> bytes:
        raise AssertionError("a JSON answer is read whole")

    async def close(self) -> None:
        self.released = True


class _RecordingClient:
    """Stands in for UpstreamClient (ai_proxy.upstream.Upstream); keeps the response it gave."""

    name = "gemini"

    def __init__(self) -> None:
        self.response = _Response()

    async def post(self, request: UpstreamRequest) -> _Response:
        return self.response

    async def close(self) -> None:
        pass


async def test_a_json_answer_releases_the_upstream_response_before_returning() -> None:
    # Left to the garbage collector, the response's context was closed by asyncio's async
    # generator finalizer: a call_soon_threadsafe, a task and a self-pipe write per request.
    config = Config.model_validate(
        {
            "providers": {"gemini": {"api_key": "key", "base_url": "http://127.0.0.1:9"}},
            "auth": {"disabled": True},
            "metrics": {"prometheus": False},
        }
    )
    gateway = Gateway(config)
    client = _RecordingClient()
    gateway.clients["gemini"] = client
    body = orjson.dumps(
        {
            "model": "gemini-2.5-flash",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    response = await gateway.handle(
        CoreRequest("POST", "/v1/messages", {"content-type": "application/json"}, body)
    )
    assert response.status == 200, response.body
    assert client.response.released  # at once: no event-loop turn, no collection in between
    await gateway.close()


def test_serving_processes_freeze_start_up_objects_and_collect_less_often() -> None:
    # In a child: the tuning is process-wide and must never touch a test process.
    code = (
        "import gc\n"
        "from ai_proxy.http.app import GC_THRESHOLD, tune_gc_for_serving\n"
        "before = gc.get_threshold()\n"
        "tune_gc_for_serving()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == GC_THRESHOLD != before, gc.get_threshold()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_building_an_app_leaves_the_collector_alone() -> None:
    """Tests and embedding hosts call create_app(config): only serving entry points tune."""
    code = (
        "import gc\n"
        "from ai_proxy.config import Config\n"
        "from ai_proxy.http.app import create_app\n"
        "before = gc.get_threshold()\n"
        "create_app(Config.model_validate({'auth': {'disabled': True}}))\n"
        "assert gc.get_freeze_count() == 0 and gc.get_threshold() == before\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
