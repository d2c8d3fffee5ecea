"""The real gemini-cli -> our Gemini door -> the fake OpenAI and the fake Anthropic.

One shell-tool round trip each: the model asks to run `echo <token>`, gemini-cli runs it and
sends the output back as a functionResponse, the model answers with text, and the CLI prints
it. Checked: what the CLI printed, and what reached the upstream on the second request (the
token, as the tool's result, answering the call by its id).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ai_proxy.auth import hash_key

from tests.e2e.gemini_cli import CLIENT_KEY, installed_gemini_cli, run_gemini_cli
from tests.fakes.anthropic import FakeAnthropic, text_reply, tool_use_reply
from tests.fakes.openai import Answer, FakeOpenAI, ToolCall
from tests.gateway_server import make_config, serve_gateway

pytestmark = pytest.mark.slow

TOKEN = "tok-5d1e"
PROMPT = f"Run the shell command `echo {TOKEN}` and report its output."
SHELL_CALL = {"command": f"echo {TOKEN}", "description": "print the token"}


@pytest.fixture(scope="module")
def binary() -> Path:
    found = installed_gemini_cli()
    if found is None:
        pytest.skip("gemini-cli is not installed: run bash tests/e2e/install_agent_clis.sh")
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[FakeOpenAI, FakeAnthropic, str]]:
    openai_fake = FakeOpenAI()
    with FakeAnthropic() as anthropic, openai_fake.serve() as openai_url:
        config = make_config(
            {"anthropic": anthropic.base_url, "openai": openai_url},
            keys={"anthropic": anthropic.api_key, "openai": openai_fake.api_key},
            auth={"client_keys": [{"name": "gemini-cli", "sha256": hash_key(CLIENT_KEY)}]},
        )
        with serve_gateway(config) as url:
            yield openai_fake, anthropic, url


def test_shell_round_trip_served_by_openai(
    binary: Path, workdir: Path, upstreams: tuple[FakeOpenAI, FakeAnthropic, str]
) -> None:
    openai_fake, _, url = upstreams
    openai_fake.reset()
    call = ToolCall("run_shell_command", [f'{{"command": "echo {TOKEN}", ', '"description": "x"}'])
    openai_fake.enqueue(Answer(tool_calls=[call], finish_reason="tool_calls"))
    openai_fake.enqueue(Answer(content=[f"The command printed {TOKEN}."]))
    output = run_gemini_cli(binary, url, workdir, PROMPT, model="gpt-4.1")
    assert f"The command printed {TOKEN}." in output["response"]
    second = openai_fake.requests[-1].body["messages"]
    result = next(message for message in second if message["role"] == "tool")
    assert result["tool_call_id"] == call.id and TOKEN in str(result["content"])


def test_shell_round_trip_served_by_anthropic(
    binary: Path, workdir: Path, upstreams: tuple[FakeOpenAI, FakeAnthropic, str]
) -> None:
    _, anthropic, url = upstreams
    anthropic.reset()
    anthropic.enqueue(tool_use_reply("run_shell_command", SHELL_CALL, tool_id="toolu_01Shell"))
    anthropic.enqueue(text_reply(f"The command printed {TOKEN}."))
    output = run_gemini_cli(binary, url, workdir, PROMPT, model="claude-sonnet-4-5")
    assert f"The command printed {TOKEN}." in output["response"]
    last_turn = anthropic.requests[-1].json["messages"][-1]["content"]
    result = next(block for block in last_turn if block["type"] == "tool_result")
    assert result["tool_use_id"] == "toolu_01Shell" and TOKEN in str(result["content"])
