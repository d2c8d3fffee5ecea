"""The real Claude Code CLI -> our gateway -> a fake Gemini: it runs a tool, then answers.

The CLI comes from npm (tests/e2e/install_claude_code.sh, pinned). It is run with a clean
environment and a temporary HOME so the developer's own settings cannot change it, with
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC so it never looks for Anthropic's servers, and always
under a timeout: the CLI waits minutes on a stalled stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini, function_call, text_answer, tool_call_answer
from tests.gateway_server import make_config, serve_gateway

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
CLIENT_KEY = "sk-gateway-client-key-for-claude-code"


@pytest.fixture(scope="module")
def claude_binary() -> str:
    installed = subprocess.run(
        ["bash", str(HERE / "install_claude_code.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return installed.stdout.strip().splitlines()[-1]


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def run_claude(binary: str, base_url: str, workdir: Path, prompt: str) -> list[dict[str, Any]]:
    home = workdir.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    command = [
        binary,
        "-p",
        prompt,
        "--model",
        "gemini-2.5-pro",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Bash",
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_claude_code_runs_a_tool_through_the_gateway(
    claude_binary: str, fake: FakeGemini, tmp_path: Path
) -> None:
    fake.enqueue(
        tool_call_answer(
            function_call("Bash", {"command": "echo hello > out.txt", "description": "write file"}),
            thinking="I will write the file with Bash.",
        ),
        text_answer("Done: wrote out.txt", chunks=2),
    )
    key_hash = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()
    config = make_config(
        {"gemini": fake.base_url},
        keys={"gemini": fake.api_key},
        auth={"client_keys": [{"name": "claude-code", "sha256": key_hash}]},
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    with serve_gateway(config) as url:
        events = run_claude(claude_binary, url, workdir, "Write hello to out.txt, then report.")

    assert (workdir / "out.txt").read_text() == "hello\n"
    result = events[-1]
    assert result["type"] == "result" and result["is_error"] is False
    assert result["result"] == "Done: wrote out.txt"

    first, second = fake.requests
    assert first.status == 200 and second.status == 200
    assert first.json["tools"][0]["functionDeclarations"]  # Claude Code's tools, as declared
    # The second turn carries the CLI's tool_result back as a functionResponse for Bash,
    # with the thought signature Gemini issued on the call.
    model_turn, result_turn = second.json["contents"][-2:]
    call = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert call["functionCall"]["name"] == "Bash" and "thoughtSignature" in call
    response = next(p for p in result_turn["parts"] if "functionResponse" in p)
    assert response["functionResponse"]["name"] == "Bash"
    # Claude Code's mid-conversation system message went into the system instruction.
    assert len(second.json["systemInstruction"]["parts"]) >= 2
