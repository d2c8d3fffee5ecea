"""The real Codex CLI -> our gateway -> a fake upstream, end to end.

Codex CLI (tests/e2e/install_agent_clis.sh, pinned) speaks the Responses API
(`POST /v1/responses`, streamed, store false, its whole history each turn). Each scenario
scripts the upstream to ask for a tool, lets Codex run it, and checks that the tool's output
reached the upstream in the second request and that Codex printed the final answer, with
the gateway refusing none of Codex's requests.

Codex declares `web_search` in every request. On Gemini the gateway refuses Google Search
next to function declarations, as Gemini does, so a Codex user on a Gemini model turns web
search off (`web_search = "disabled"`), and so does the Gemini scenario here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ai_proxy.auth import hash_key
from ai_proxy.config import Config

from tests.e2e.claude_code import ServedRequests, serve_recorded_gateway
from tests.e2e.codex_cli import CLIENT_KEY, CodexRun, installed_codex, run_codex
from tests.fakes.anthropic import FakeAnthropic, text_reply, tool_use_reply
from tests.fakes.gemini import FakeGemini, function_call, text_answer, tool_call_answer
from tests.gateway_server import make_config

pytestmark = pytest.mark.slow

TOKEN = "tok-5d21"
PROMPT = f"Run the shell command `echo {TOKEN}` and report its output."
FINAL = f"The command printed {TOKEN}."
SHELL_CALL = {"cmd": f"echo {TOKEN}"}  # Codex's shell tool, exec_command
NO_WEB_SEARCH = 'web_search = "disabled"'


@pytest.fixture(scope="module")
def codex() -> Path:
    binary = installed_codex()
    if binary is None:
        pytest.skip("Codex CLI is not installed: run bash tests/e2e/install_agent_clis.sh")
    return binary


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def codex_config(upstreams: dict[str, str], keys: dict[str, str]) -> Config:
    auth = {"client_keys": [{"name": "codex", "sha256": hash_key(CLIENT_KEY)}]}
    return make_config(upstreams, keys=keys, auth=auth)


def responses_bodies(served: ServedRequests) -> list[dict[str, Any]]:
    """The /v1/responses bodies Codex sent, after checking the gateway answered all 200."""
    refused = [f"{r.path} -> {r.status} {r.error_message}" for r in served.records if not r.ok]
    assert not refused, refused
    bodies = [json.loads(r.body) for r in served.requests if r.path == "/v1/responses"]
    assert len(bodies) == len(served.requests) == 2
    return bodies


def assert_shell_ran(run: CodexRun) -> None:
    [command] = run.items("command_execution")
    assert command["exit_code"] == 0
    assert TOKEN in command["aggregated_output"]
    assert run.final_text == FINAL


def test_codex_shell_round_trip_on_anthropic(codex: Path, workdir: Path) -> None:
    with FakeAnthropic(client_keys={CLIENT_KEY}) as fake:
        fake.enqueue(
            tool_use_reply("exec_command", SHELL_CALL, tool_id="toolu_01Shell"), text_reply(FINAL)
        )
        config = codex_config({"anthropic": fake.base_url}, {"anthropic": fake.api_key})
        with serve_recorded_gateway(config) as (url, served):
            run = run_codex(codex, url, workdir, PROMPT, model="claude-sonnet-4-5")

    responses_bodies(served)
    assert_shell_ran(run)
    assert fake.leaks == []
    first, second = fake.requests
    assert first.status == 200 and second.status == 200
    names = [tool["name"] for tool in first.json["tools"]]
    assert "exec_command" in names and "multi_agent_v1__spawn_agent" in names
    assert {"type": "web_search_20250305", "name": "web_search"} in first.json["tools"]
    call, result = second.json["messages"][-2:]
    assert call["content"] == [
        {"type": "tool_use", "id": "toolu_01Shell", "name": "exec_command", "input": SHELL_CALL}
    ]
    [block] = result["content"]
    assert block["tool_use_id"] == "toolu_01Shell"
    assert TOKEN in json.dumps(block["content"])


def test_codex_shell_round_trip_on_gemini(codex: Path, workdir: Path) -> None:
    with FakeGemini() as fake:
        fake.enqueue(
            tool_call_answer(function_call("exec_command", SHELL_CALL)), text_answer(FINAL)
        )
        config = codex_config({"gemini": fake.base_url}, {"gemini": fake.api_key})
        with serve_recorded_gateway(config) as (url, served):
            run = run_codex(
                codex, url, workdir, PROMPT, model="gemini-2.5-flash", config_extra=NO_WEB_SEARCH
            )

    responses_bodies(served)
    assert_shell_ran(run)
    first, second = fake.requests
    assert first.status == 200 and second.status == 200
    declared = {
        declaration["name"]
        for tool in first.json["tools"]
        for declaration in tool.get("functionDeclarations", [])
    }
    assert {"exec_command", "multi_agent_v1__spawn_agent"} <= declared
    model_turn, result_turn = second.json["contents"][-2:]
    [call] = [part["functionCall"] for part in model_turn["parts"] if "functionCall" in part]
    assert (call["name"], call["args"]) == ("exec_command", SHELL_CALL)
    [response] = [
        part["functionResponse"] for part in result_turn["parts"] if "functionResponse" in part
    ]
    assert response["name"] == "exec_command"
    assert TOKEN in json.dumps(response["response"])


def test_codex_namespaced_tool_call(codex: Path, workdir: Path) -> None:
    """A call of a namespace member (multi_agent_v1.close_agent) reaches Codex's own tool, and
    Codex sends the call back with its namespace, which names the flat tool again."""
    with FakeAnthropic(client_keys={CLIENT_KEY}) as fake:
        fake.enqueue(
            tool_use_reply(
                "multi_agent_v1__close_agent", {"target": "agent-nope"}, tool_id="toolu_01Close"
            ),
            text_reply(FINAL),
        )
        config = codex_config({"anthropic": fake.base_url}, {"anthropic": fake.api_key})
        with serve_recorded_gateway(config) as (url, served):
            run = run_codex(codex, url, workdir, PROMPT, model="claude-sonnet-4-5")

    _, again = responses_bodies(served)
    assert run.final_text == FINAL
    call, output = again["input"][-2:]
    assert (call["type"], call["name"], call["namespace"]) == (
        "function_call",
        "close_agent",
        "multi_agent_v1",
    )
    assert output["type"] == "function_call_output"
    assert output["call_id"] == call["call_id"] == "toolu_01Close"
    tool_use, result = fake.requests[1].json["messages"][-2:]
    assert tool_use["content"][0]["name"] == "multi_agent_v1__close_agent"
    # Codex ran its close_agent, which refused the made-up agent id by name.
    assert "agent-nope" in json.dumps(result["content"][0]["content"])
