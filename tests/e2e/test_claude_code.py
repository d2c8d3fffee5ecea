"""The real Claude Code CLI -> our gateway -> a fake upstream, end to end.

Each scenario runs the newest Claude Code (tests/e2e/install_claude_code.sh, pinned) through
one tool loop and checks three things: the run's own outcome (the tool ran, the answer was
printed), what reached the upstream, and that the gateway refused none of Claude Code's
requests on the way (`served.assert_none_refused()`): Claude Code answers a 400 by retrying
with fewer betas, so a refusal would otherwise pass unseen.

With `--model claude-opus-4-7` Claude Code sends `output_config.effort: "xhigh"`, adaptive
thinking with `display: "updates"`, `context_management`, the ToolSearch client tool and a
`defer_loading` placeholder, many betas, and `?beta=true` (seen by capture); for other model
names (gemini-*, gpt-*) it sends effort "high". Built-ins such as TaskList, WebSearch and
WebFetch are deferred: the model must find them with ToolSearch first, and Claude Code then
declares them in later requests (the ToolSearch result is a `tool_reference` block).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ai_proxy.config import Config
from ai_proxy.providers.gemini.request import EFFORT_BUDGETS

from tests.e2e.claude_code import (
    CLIENT_KEY,
    Run,
    ServedRequests,
    gateway_config,
    install_claude_code,
    run_claude,
    serve_page,
    serve_recorded_gateway,
)
from tests.fakes.anthropic import FakeAnthropic, MessageReply, sign, text_reply
from tests.fakes.bedrock import REGION as BEDROCK_REGION
from tests.fakes.bedrock import TEST_CREDENTIALS, FakeBedrock, isolate_aws_env
from tests.fakes.gcp_metadata import FakeGoogleAuth, google_auth_env
from tests.fakes.gemini import (
    FakeGemini,
    RecordedRequest,
    fake_signature,
    function_call,
    text_answer,
    tool_call_answer,
)
from tests.fakes.gemini_replies import grounded_answer
from tests.fakes.openai import Answer, FakeOpenAI, ToolCall
from tests.fakes.vertex import FakeVertex

pytestmark = pytest.mark.slow

OPUS = "claude-opus-4-7"  # the first model name Claude Code sends `effort` for
WRITE_FILE = "Write hello to out.txt, then report."
BASH_CALL = {"command": "echo hello > out.txt", "description": "write file"}


@pytest.fixture(scope="module")
def claude_binary() -> str:
    return install_claude_code()


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def gemini_config(fake: FakeGemini, aliases: dict[str, str] | None = None) -> Config:
    return gateway_config(
        {"gemini": fake.base_url},
        {"gemini": fake.api_key},
        routing={"aliases": aliases or {}},
    )


def declared(request: RecordedRequest) -> set[str]:
    """The function names a Gemini request declares."""
    return {
        declaration["name"]
        for tool in request.json.get("tools", [])
        for declaration in tool.get("functionDeclarations", [])
    }


def function_responses(request: RecordedRequest) -> list[dict[str, Any]]:
    return [
        part["functionResponse"]
        for content in request.json["contents"]
        for part in content["parts"]
        if "functionResponse" in part
    ]


def tool_reference_names(body: dict[str, Any]) -> set[str]:
    """The tools named by `tool_reference` blocks in a Claude Code request's tool results."""
    return {
        item["tool_name"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result" and isinstance(block.get("content"), list)
        for item in block["content"]
        if item.get("type") == "tool_reference"
    }


def assert_answered(run: Run, text: str) -> None:
    result = run.result
    assert result["type"] == "result" and result["is_error"] is False, result
    assert result["result"] == text


def assert_gemini_bash_round_trip(gemini: FakeGemini, workdir: Path, run: Run) -> None:
    assert (workdir / "out.txt").read_text() == "hello\n"
    assert_answered(run, "Done: wrote out.txt")
    first, second = gemini.requests
    assert first.status == 200 and second.status == 200
    assert "Bash" in declared(first)
    model_turn, result_turn = second.json["contents"][-2:]
    call = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert call["functionCall"]["name"] == "Bash"
    response = next(p for p in result_turn["parts"] if "functionResponse" in p)
    assert response["functionResponse"]["name"] == "Bash"


def opus_tool_loop() -> tuple[str, MessageReply]:
    thinking = "I will write the file with Bash."
    call = MessageReply(
        content=(
            {"type": "thinking", "thinking": thinking, "signature": sign(thinking)},
            {"type": "tool_use", "id": "toolu_01WriteFile", "name": "Bash", "input": BASH_CALL},
        ),
        stop_reason="tool_use",
    )
    return thinking, call


# --- 1. Opus 4.7 on the Anthropic pass-through ---------------------------------------------


def test_opus_on_the_anthropic_pass_through(claude_binary: str, workdir: Path) -> None:
    thinking, call = opus_tool_loop()
    with FakeAnthropic(client_keys={CLIENT_KEY}) as fake:
        fake.enqueue(call, text_reply("Done: wrote out.txt"))
        config = gateway_config({"anthropic": fake.base_url}, {"anthropic": fake.api_key})
        with serve_recorded_gateway(config) as (url, served):
            run = run_claude(claude_binary, url, workdir, WRITE_FILE, model=OPUS)

    served.assert_none_refused()
    assert (workdir / "out.txt").read_text() == "hello\n"
    assert_answered(run, "Done: wrote out.txt")
    first, second = fake.requests
    assert first.status == 200 and second.status == 200
    assert first.query == {"beta": "true"}
    assert "advanced-tool-use-2025-11-20" in first.headers["anthropic-beta"]
    assert first.json["output_config"]["effort"] == "xhigh"
    assert first.json["thinking"] == {"type": "adaptive", "display": "updates"}
    assert any(tool.get("defer_loading") for tool in first.json["tools"])
    # The thinking block came back signed as the fake issued it, before the tool result.
    assistant, result = second.json["messages"][-2:]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": thinking,
        "signature": sign(thinking),
    }
    assert result["content"][0]["tool_use_id"] == "toolu_01WriteFile"


# --- 1b. Opus 4.7 on Bedrock and on Vertex AI, with the platform's credentials ----------------


def assert_claude_round_trip(
    served: ServedRequests, run: Run, workdir: Path, thinking: str, second: dict[str, Any]
) -> None:
    """The Bash call ran, the answer was printed, nothing was refused, and the second request
    carried the thinking block signed as the fake issued it, before the tool result."""
    served.assert_none_refused()
    assert (workdir / "out.txt").read_text() == "hello\n"
    assert_answered(run, "Done: wrote out.txt")
    assistant, result = second["messages"][-2:]
    assert assistant["content"][0]["signature"] == sign(thinking)
    assert result["content"][0]["tool_use_id"] == "toolu_01WriteFile"


def test_opus_on_bedrock(
    claude_binary: str, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    thinking, call = opus_tool_loop()
    with FakeBedrock(client_keys={CLIENT_KEY}) as fake:
        fake.enqueue(call, text_reply("Done: wrote out.txt"))
        table = {"enabled": True, "region": BEDROCK_REGION, "base_url": fake.base_url}
        aliases = {OPUS: "bedrock/global.anthropic.claude-opus-4-7"}
        config = gateway_config({}, {}, providers={"bedrock": table}, routing={"aliases": aliases})
        with serve_recorded_gateway(config) as (url, served):
            run = run_claude(claude_binary, url, workdir, WRITE_FILE, model=OPUS)

    assert fake.refusals == [] and fake.leaks == []
    first, second = fake.requests
    assert_claude_round_trip(served, run, workdir, thinking, second.json)
    assert (first.operation, first.model_id) == (
        "InvokeModelWithResponseStream",
        "global.anthropic.claude-opus-4-7",
    )
    # Claude Code's Anthropic-only betas stayed here (Bedrock refuses them); its tool search
    # went under Bedrock's name, with the deferred tools it needs.
    assert "tool-search-tool-2025-10-19" in first.json["anthropic_beta"]
    assert "claude-code-20250219" not in first.json["anthropic_beta"]
    assert any(tool.get("defer_loading") for tool in first.json["tools"])
    assert first.json["output_config"]["effort"] == "xhigh"


def test_opus_on_vertex(claude_binary: str, workdir: Path, tmp_path: Path) -> None:
    thinking, call = opus_tool_loop()
    anthropic_fake = FakeAnthropic(client_keys={CLIENT_KEY})
    vertex = FakeVertex(FakeGoogleAuth(), anthropic=anthropic_fake)
    with vertex, google_auth_env(vertex.google, tmp_path / "gcloud"):
        anthropic_fake.enqueue(call, text_reply("Done: wrote out.txt"))
        table = {"enabled": True, "location": vertex.location, "base_url": vertex.base_url}
        aliases = {OPUS: "vertex/claude-opus-4-7"}
        config = gateway_config({}, {}, providers={"vertex": table}, routing={"aliases": aliases})
        with serve_recorded_gateway(config) as (url, served):
            run = run_claude(claude_binary, url, workdir, WRITE_FILE, model=OPUS)

    first, second = vertex.requests
    assert_claude_round_trip(served, run, workdir, thinking, second.json)
    assert first.resource.endswith("/publishers/anthropic/models/claude-opus-4-7")
    assert first.headers["authorization"].startswith("Bearer ")
    assert first.json["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in first.json
    assert first.json["output_config"]["effort"] == "xhigh"


# --- 2. Opus 4.7 aliased to Gemini ----------------------------------------------------------


def test_opus_aliased_to_gemini(claude_binary: str, gemini: FakeGemini, workdir: Path) -> None:
    gemini.enqueue(
        tool_call_answer(function_call("Bash", BASH_CALL), thinking="I will write the file."),
        text_answer("Done: wrote out.txt", chunks=2),
    )
    config = gemini_config(gemini, {OPUS: "gemini/gemini-2.5-pro"})
    with serve_recorded_gateway(config) as (url, served):
        run = run_claude(claude_binary, url, workdir, WRITE_FILE, model=OPUS)

    served.assert_none_refused()
    assert_gemini_bash_round_trip(gemini, workdir, run)
    assert served.messages()[0]["output_config"] == {"effort": "xhigh"}
    # Gemini thinks as hard as xhigh says, and shows its thoughts (display "updates").
    expected = {"thinkingBudget": EFFORT_BUDGETS["xhigh"], "includeThoughts": True}
    for request in gemini.requests:
        assert request.json["generationConfig"]["thinkingConfig"] == expected


# --- 3. A Gemini 3 model ----------------------------------------------------------------------


def test_gemini_3_tool_round_trip(claude_binary: str, gemini: FakeGemini, workdir: Path) -> None:
    signature = fake_signature("gemini-3-bash-call")
    gemini.enqueue(
        tool_call_answer(function_call("Bash", BASH_CALL), signature=signature),
        text_answer("Done: wrote out.txt", chunks=2),
    )
    with serve_recorded_gateway(gemini_config(gemini)) as (url, served):
        run = run_claude(claude_binary, url, workdir, WRITE_FILE, model="gemini-3-pro-preview")

    served.assert_none_refused()
    assert_gemini_bash_round_trip(gemini, workdir, run)
    model_turn = gemini.requests[1].json["contents"][-2]
    call = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert call["thoughtSignature"] == signature  # the one the fake issued, byte for byte
    # Claude Code's mid-conversation system message went into the system instruction.
    assert len(gemini.requests[1].json["systemInstruction"]["parts"]) >= 2


# --- 4. A tool found through ToolSearch -----------------------------------------------------


def test_tool_found_through_tool_search_on_gemini(
    claude_binary: str, gemini: FakeGemini, workdir: Path
) -> None:
    gemini.enqueue(
        tool_call_answer(function_call("ToolSearch", {"query": "select:TaskList"})),
        tool_call_answer(function_call("TaskList", {})),
        text_answer("You have no tasks."),
    )
    with serve_recorded_gateway(gemini_config(gemini)) as (url, served):
        run = run_claude(
            claude_binary, url, workdir, "List my tasks.", model="gemini-2.5-pro",
            allowed_tools=("TaskList",),
        )  # fmt: skip

    served.assert_none_refused()
    assert_answered(run, "You have no tasks.")
    search, call, answer = gemini.requests
    assert all(r.status == 200 for r in gemini.requests)
    assert "ToolSearch" in declared(search) and "TaskList" not in declared(search)
    # Claude Code answered ToolSearch with a tool_reference; the gateway declared the tool.
    assert tool_reference_names(served.messages()[1]) == {"TaskList"}
    assert "TaskList" in declared(call)
    assert [r["name"] for r in function_responses(answer)] == ["ToolSearch", "TaskList"]


def test_tool_found_through_tool_search_on_openai(claude_binary: str, workdir: Path) -> None:
    fake = FakeOpenAI()
    fake.enqueue(
        Answer(
            tool_calls=[ToolCall("ToolSearch", ['{"query": "select:TaskList"}'])],
            finish_reason="tool_calls",
        ),
        Answer(tool_calls=[ToolCall("TaskList", ["{}"])], finish_reason="tool_calls"),
        Answer(content=["You have ", "no tasks."]),
    )
    with fake.serve() as base_url:
        config = gateway_config({"openai": base_url}, {"openai": fake.api_key})
        with serve_recorded_gateway(config) as (url, served):
            run = run_claude(
                claude_binary, url, workdir, "List my tasks.", model="gpt-5",
                allowed_tools=("TaskList",),
            )  # fmt: skip

    served.assert_none_refused()
    assert not fake.rejections
    assert_answered(run, "You have no tasks.")
    search, call, answer = (r.body for r in fake.requests)
    names = [{t["function"]["name"] for t in body.get("tools", [])} for body in (search, call)]
    assert "ToolSearch" in names[0] and "TaskList" not in names[0]
    assert tool_reference_names(served.messages()[1]) == {"TaskList"}
    assert "TaskList" in names[1]
    tool_messages = [m for m in answer["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 2


# --- 5. WebSearch on Gemini -------------------------------------------------------------------

SEARCH_QUERY = "ai-proxy 1.4 release codename"
RESULT_URL = "https://example.org/ai-proxy/releases/1.4"


def test_web_search_on_gemini(claude_binary: str, gemini: FakeGemini, workdir: Path) -> None:
    gemini.enqueue(
        tool_call_answer(function_call("ToolSearch", {"query": "select:WebSearch"})),
        tool_call_answer(function_call("WebSearch", {"query": SEARCH_QUERY})),
        # Claude Code's side request: web_search_20250305, served by googleSearch grounding.
        grounded_answer(
            "The ai-proxy 1.4 release is codenamed Blue Heron.",
            queries=[SEARCH_QUERY],
            sources=[(RESULT_URL, "example.org")],
            supports=[("codenamed Blue Heron", [0])],
        ),
        text_answer("The codename is Blue Heron (example.org)."),
    )
    with serve_recorded_gateway(gemini_config(gemini)) as (url, served):
        run = run_claude(
            claude_binary, url, workdir, "Search the web: what is the ai-proxy 1.4 codename?",
            model="gemini-2.5-pro", allowed_tools=("WebSearch",),
        )  # fmt: skip

    served.assert_none_refused()
    assert_answered(run, "The codename is Blue Heron (example.org).")
    _, web_search, side, answer = gemini.requests
    assert all(r.status == 200 for r in gemini.requests)
    assert "WebSearch" in declared(web_search)
    side_body = served.messages()[2]
    assert [t.get("type") for t in side_body["tools"]] == ["web_search_20250305"]
    assert {"googleSearch": {}} in side.json["tools"]
    # What the search found reached the model as WebSearch's result.
    [result] = [r for r in function_responses(answer) if r["name"] == "WebSearch"]
    output = json.dumps(result["response"])
    assert RESULT_URL in output and "Blue Heron" in output


# --- 6. WebFetch on Gemini ----------------------------------------------------------------------
#
# What Claude Code does (seen by capture): it asks claude.ai whether the domain is safe unless
# the setting `skipWebFetchPreflight` is on; it upgrades http:// to https://, so the page is
# served over TLS with a test CA it is told to trust (NODE_EXTRA_CA_CERTS); it fetches the page
# itself, turns the HTML into Markdown, and sends one side request, page and prompt, to its
# small model (ANTHROPIC_DEFAULT_HAIKU_MODEL; the main model when unset), with thinking
# disabled and `temperature: 1`. Its answer is WebFetch's result.

HAIKU = "claude-haiku-4-5"
PAGE = (
    "<html><head><title>Release notes</title></head><body><h1>ai-proxy 1.4</h1>"
    "<p>The release codename is BLUE HERON.</p></body></html>"
)


def test_web_fetch_on_gemini(
    claude_binary: str, gemini: FakeGemini, workdir: Path, tmp_path: Path
) -> None:
    with serve_page(PAGE, tmp_path) as (url, ca_file, fetched):
        gemini.enqueue(
            tool_call_answer(function_call("ToolSearch", {"query": "select:WebFetch"})),
            tool_call_answer(
                function_call("WebFetch", {"url": url, "prompt": "What is the release codename?"})
            ),
            text_answer("The page says the codename is BLUE HERON."),  # the small model
            text_answer("The codename is BLUE HERON."),
        )
        config = gemini_config(gemini, {HAIKU: "gemini/gemini-2.5-flash"})
        settings = workdir.parent / "home" / ".claude" / "settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"skipWebFetchPreflight": True}))
        with serve_recorded_gateway(config) as (gateway_url, served):
            run = run_claude(
                claude_binary, gateway_url, workdir, f"What is the codename on {url}?",
                model="gemini-2.5-pro", allowed_tools=("WebFetch",),
                env={"NODE_EXTRA_CA_CERTS": str(ca_file), "ANTHROPIC_DEFAULT_HAIKU_MODEL": HAIKU},
            )  # fmt: skip

    served.assert_none_refused()
    assert fetched == ["/notes.html"]
    assert_answered(run, "The codename is BLUE HERON.")
    _, fetch_call, side, answer = gemini.requests
    assert all(r.status == 200 for r in gemini.requests)
    assert "WebFetch" in declared(fetch_call)
    assert side.model == "gemini-2.5-flash"
    assert "BLUE HERON" in json.dumps(side.json["contents"])  # the page, as Markdown
    [result] = [r for r in function_responses(answer) if r["name"] == "WebFetch"]
    assert "BLUE HERON" in json.dumps(result["response"])
