"""The two request bodies of the benchmark, built deterministically.

- small: a chat turn, system prompt + one user message (~0.4 KB);
- agent: what Claude Code sends mid-task (~40 KB): a long system prompt in cached text blocks,
  15 tools with rich JSON schemas, and 20 messages of tool_use / tool_result traffic.

Both are written as Anthropic Messages requests; `to_openai_chat`, `to_openai_responses` and
`to_gemini` say the same conversation as a client of the gateway's other doors would (the
`--ingress` of bench/run.py). `python bench/bodies.py` prints their sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

Body = dict[str, Any]
EPHEMERAL = {"type": "ephemeral"}
SCHEMA = "http://json-schema.org/draft-07/schema#"


def small_chat(model: str, stream: bool) -> Body:
    return {
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "system": "You are a concise assistant. Answer in plain prose, without lists.",
        "messages": [
            {
                "role": "user",
                "content": "In a few sentences: why should a gateway validate each request "
                "only once, and what does it cost when it does not?",
            }
        ],
    }


def _prose(topic: str, sentences: int) -> str:
    """Instruction-style filler that reads like a real system prompt or tool description."""
    templates = [
        "When working on {t}, prefer the smallest change that fully solves the problem.",
        "Before you change anything related to {t}, read the surrounding code and its tests.",
        "Never guess about {t}: check the file, the documentation or the command output.",
        "Explain what you did about {t} in one or two sentences, without restating the diff.",
        "If a command about {t} fails, read the error, fix the cause and run it again.",
        "Keep answers about {t} short; the user sees them in a terminal.",
        "Use the dedicated tools for {t} instead of shell equivalents whenever they exist.",
        "Do not add comments about {t} that merely repeat what the code says.",
    ]
    return " ".join(templates[i % len(templates)].format(t=topic) for i in range(sentences))


def _system() -> list[Body]:
    sections = [
        "You are Claude Code, Anthropic's official CLI for Claude.",
        "You are an interactive CLI tool that helps users with software engineering tasks. "
        + _prose("the task", 16),
        "# Tone and style\n" + _prose("tone", 12),
        "# Proactiveness\n" + _prose("initiative", 10),
        "# Following conventions\n" + _prose("the codebase's conventions", 12),
        "# Doing tasks\n" + _prose("a software engineering task", 14),
        "# Tool usage policy\n" + _prose("tool calls", 12),
        "Here is useful information about the environment you are running in:\n<env>\n"
        "Working directory: /home/dev/projects/ai-proxy\nIs directory a git repo: Yes\n"
        "Platform: linux\nOS Version: Linux 6.1.0\nToday's date: 2025-06-14\n</env>",
        "# Code References\n" + _prose("references to code", 6),
    ]
    blocks: list[Body] = [{"type": "text", "text": text} for text in sections]
    blocks[-1]["cache_control"] = EPHEMERAL
    return blocks


def _tool(name: str, sentences: int, properties: Body, required: list[str]) -> Body:
    return {
        "name": name,
        "description": _prose(f"the {name} tool", sentences),
        "input_schema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
            "$schema": SCHEMA,
        },
    }


def _string(description: str, **extra: Any) -> Body:
    return {"type": "string", "description": description, **extra}


def _tools() -> list[Body]:
    edit: Body = {
        "type": "object",
        "properties": {
            "old_string": _string("The text to replace"),
            "new_string": _string("The text to replace it with"),
            "replace_all": {"type": "boolean", "default": False, "description": "All matches"},
        },
        "required": ["old_string", "new_string"],
        "additionalProperties": False,
    }
    todo = {
        "type": "object",
        "properties": {
            "content": _string("What to do", minLength=1),
            "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
            "priority": {"type": "string", "enum": ["high", "medium", "low"]},
            "id": _string("A stable id"),
        },
        "required": ["content", "status", "priority", "id"],
        "additionalProperties": False,
    }
    return [
        _tool(
            "Task",
            10,
            {
                "description": _string("A short (3-5 word) description of the task"),
                "prompt": _string("The task for the agent to perform"),
                "subagent_type": _string("The type of specialized agent to use"),
            },
            ["description", "prompt", "subagent_type"],
        ),
        _tool(
            "Bash",
            24,
            {
                "command": _string("The command to execute"),
                "timeout": {"type": "number", "description": "Timeout in ms (max 600000)"},
                "description": _string("Clear, concise description of what this command does"),
                "run_in_background": {"type": "boolean", "description": "Run in background"},
            },
            ["command"],
        ),
        _tool(
            "Glob",
            6,
            {
                "pattern": _string("The glob pattern to match files against"),
                "path": _string("The directory to search in"),
            },
            ["pattern"],
        ),
        _tool(
            "Grep",
            12,
            {
                "pattern": _string("The regular expression pattern to search for"),
                "path": _string("File or directory to search in"),
                "glob": _string("Glob pattern to filter files"),
                "output_mode": {
                    "type": "string",
                    "enum": ["content", "files_with_matches", "count"],
                    "description": "Output mode",
                },
                "-B": {"type": "number", "description": "Lines before each match"},
                "-A": {"type": "number", "description": "Lines after each match"},
                "-C": {"type": "number", "description": "Lines around each match"},
                "-n": {"type": "boolean", "description": "Show line numbers"},
                "-i": {"type": "boolean", "description": "Case insensitive search"},
                "type": _string("File type to search"),
                "head_limit": {"type": "number", "description": "Limit output to first N"},
                "multiline": {"type": "boolean", "description": "Enable multiline mode"},
            },
            ["pattern"],
        ),
        _tool(
            "LS",
            4,
            {
                "path": _string("The absolute path to the directory to list"),
                "ignore": {"type": "array", "items": {"type": "string"}, "description": "Globs"},
            },
            ["path"],
        ),
        _tool("ExitPlanMode", 5, {"plan": _string("The plan to run by the user")}, ["plan"]),
        _tool(
            "Read",
            10,
            {
                "file_path": _string("The absolute path to the file to read"),
                "offset": {"type": "number", "description": "The line number to start from"},
                "limit": {"type": "number", "description": "The number of lines to read"},
            },
            ["file_path"],
        ),
        _tool(
            "Edit",
            9,
            {"file_path": _string("The absolute path to the file to modify"), **edit["properties"]},
            ["file_path", "old_string", "new_string"],
        ),
        _tool(
            "MultiEdit",
            12,
            {
                "file_path": _string("The absolute path to the file to modify"),
                "edits": {"type": "array", "items": edit, "minItems": 1},
            },
            ["file_path", "edits"],
        ),
        _tool(
            "Write",
            6,
            {
                "file_path": _string("The absolute path to the file to write"),
                "content": _string("The content to write to the file"),
            },
            ["file_path", "content"],
        ),
        _tool(
            "NotebookEdit",
            6,
            {
                "notebook_path": _string("The absolute path to the notebook"),
                "cell_id": _string("The ID of the cell to edit"),
                "new_source": _string("The new source for the cell"),
                "cell_type": {"type": "string", "enum": ["code", "markdown"]},
                "edit_mode": {"type": "string", "enum": ["replace", "insert", "delete"]},
            },
            ["notebook_path", "new_source"],
        ),
        _tool(
            "WebFetch",
            8,
            {
                "url": _string("The URL to fetch content from", format="uri"),
                "prompt": _string("The prompt to run on the fetched content"),
            },
            ["url", "prompt"],
        ),
        _tool(
            "TodoWrite",
            16,
            {"todos": {"type": "array", "items": todo, "description": "The todo list"}},
            ["todos"],
        ),
        _tool(
            "WebSearch",
            6,
            {
                "query": _string("The search query to use", minLength=2),
                "allowed_domains": {"type": "array", "items": {"type": "string"}},
                "blocked_domains": {"type": "array", "items": {"type": "string"}},
            },
            ["query"],
        ),
        _tool(
            "BashOutput",
            4,
            {
                "bash_id": _string("The ID of the background shell"),
                "filter": _string("Regular expression to filter output lines"),
            },
            ["bash_id"],
        ),
    ]


def _file_listing(name: str, lines: int) -> str:
    """What the Read tool returns: numbered lines of a plausible Python module."""
    body = [
        f'"""{name}: part of the gateway."""',
        "",
        "from __future__ import annotations",
        "",
        "import asyncio",
        "from dataclasses import dataclass",
        "",
    ]
    for i in range(lines - len(body)):
        match i % 6:
            case 0:
                body.append(f"def handler_{i}(request: Request, limit: int = {i}) -> Response:")
            case 1:
                body.append(f"    value = request.headers.get('x-field-{i}', '')")
            case 2:
                body.append(f"    if len(value) > limit:  # reject oversized field {i}")
            case 3:
                body.append(f"        raise InvalidRequest(f'field {i} exceeds {{limit}}')")
            case 4:
                body.append(f"    return Response(status=200, body=value.encode())  # {name}")
            case _:
                body.append("")
    return "\n".join(f"{n + 1:>6}\t{line}" for n, line in enumerate(body))


def _messages() -> list[Body]:
    files = ["gateway.py", "upstream.py", "sse.py", "routing.py", "config.py"]
    messages: list[Body] = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "<system-reminder>As you answer the user's questions, you can use "
                    "the following context: the project uses ruff and mypy --strict."
                    "</system-reminder>",
                },
                {
                    "type": "text",
                    "text": "The gateway is slow under load. Find where each request spends "
                    "its time and make the hot path cheaper without changing behaviour.",
                },
            ],
        }
    ]
    for i in range(10):
        name = files[i % len(files)]
        tool_id = f"toolu_01Bench{i:02d}XyZ9aBcDeFgHiJk"
        call: Body
        if i % 3 == 0:
            call = {"file_path": f"/home/dev/projects/ai-proxy/core/ai_proxy/{name}"}
            tool, result = "Read", _file_listing(name, 30)
        elif i % 3 == 1:
            call = {"pattern": "def handle|async def", "path": "core", "output_mode": "content"}
            tool = "Grep"
            result = "\n".join(
                f"core/ai_proxy/{f}:{10 * n}:async def step_{n}()" for n, f in enumerate(files * 3)
            )
        else:
            call = {"command": "python -m pytest -q tests/unit", "description": "Run unit tests"}
            tool = "Bash"
            result = "." * 120 + "\n120 passed in 1.84s"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": f"Let me look at {name} to see what runs per request.",
                    },
                    {"type": "tool_use", "id": tool_id, "name": tool, "input": call},
                ],
            }
        )
        content: Any = result if i % 2 == 0 else [{"type": "text", "text": result}]
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": content}],
            }
        )
    messages[-1]["content"][-1]["cache_control"] = EPHEMERAL
    return messages


def agent_request(model: str, stream: bool) -> Body:
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "temperature": 1,
        "system": _system(),
        "tools": _tools(),
        "messages": _messages(),
        "metadata": {"user_id": "user_bench_account_0000_session_1111"},
    }


BODIES = {"small": small_chat, "agent": agent_request}


def encode(name: str, model: str, stream: bool) -> bytes:
    return orjson.dumps(BODIES[name](model, stream))


# -- the same conversation in the other client formats ---------------------------------------
# Each says what the Anthropic body says, as that format's clients write it. cache_control has
# no counterpart and is left out (OpenAI caches by prefix, Gemini by cache objects of its own).


def _system_texts(request: Body) -> list[str]:
    system = request.get("system") or []
    return [system] if isinstance(system, str) else [block["text"] for block in system]


def _blocks(message: Body) -> list[Body]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _texts(blocks: list[Body]) -> list[str]:
    return [block["text"] for block in blocks if block["type"] == "text"]


def _result_text(block: Body) -> str:
    """A tool_result's content as the one string the other formats' tool outputs carry."""
    content = block["content"]
    return content if isinstance(content, str) else "".join(_texts(content))


def _arguments(block: Body) -> str:
    return orjson.dumps(block["input"]).decode()


def _temperature(request: Body) -> Body:
    return {"temperature": request["temperature"]} if "temperature" in request else {}


def _openai_options(request: Body) -> Body:
    """What both OpenAI formats carry alike: the temperature, and the end user that Anthropic
    names in metadata."""
    user = request.get("metadata", {}).get("user_id")
    return _temperature(request) | ({"safety_identifier": user} if user else {})


def to_openai_chat(request: Body) -> Body:
    """A Chat Completions request: tool results are `tool` messages, calls `tool_calls`."""
    system = [{"type": "text", "text": text} for text in _system_texts(request)]
    messages: list[Body] = [{"role": "system", "content": system}] if system else []
    for message in request["messages"]:
        blocks = _blocks(message)
        if message["role"] == "assistant":
            reply: Body = {"role": "assistant", "content": "".join(_texts(blocks)) or None}
            calls = [_chat_call(b) for b in blocks if b["type"] == "tool_use"]
            messages.append(reply | ({"tool_calls": calls} if calls else {}))
            continue
        for b in blocks:
            if b["type"] == "tool_result":
                result = {"role": "tool", "tool_call_id": b["tool_use_id"]}
                messages.append(result | {"content": _result_text(b)})
        if texts := _texts(blocks):
            messages.append(
                {"role": "user", "content": [{"type": "text", "text": t} for t in texts]}
            )
    chat: Body = {
        "model": request["model"],
        "messages": messages,
        "max_completion_tokens": request["max_tokens"],
        "stream": request["stream"],
        **_openai_options(request),
    }
    if request["stream"]:
        chat["stream_options"] = {"include_usage": True}  # as the openai SDKs' users ask
    if tools := request.get("tools"):
        chat["tools"] = [{"type": "function", "function": _function(t)} for t in tools]
    return chat


def _chat_call(block: Body) -> Body:
    function = {"name": block["name"], "arguments": _arguments(block)}
    return {"id": block["id"], "type": "function", "function": function}


def _function(tool: Body) -> Body:
    return {
        "name": tool["name"],
        "description": tool["description"],
        "parameters": tool["input_schema"],
    }


def to_openai_responses(request: Body) -> Body:
    """A Responses request as Codex sends one: `instructions`, then every item, not stored."""
    items: list[Body] = []
    for message in request["messages"]:
        text_type = "output_text" if message["role"] == "assistant" else "input_text"
        for block in _blocks(message):
            match block["type"]:
                case "text":
                    content = [{"type": text_type, "text": block["text"]}]
                    items.append({"type": "message", "role": message["role"], "content": content})
                case "tool_use":
                    call = {"call_id": block["id"], "name": block["name"]}
                    items.append({"type": "function_call", **call, "arguments": _arguments(block)})
                case "tool_result":
                    output = {"call_id": block["tool_use_id"], "output": _result_text(block)}
                    items.append({"type": "function_call_output", **output})
    responses: Body = {
        "model": request["model"],
        "instructions": "\n\n".join(_system_texts(request)),
        "input": items,
        "max_output_tokens": request["max_tokens"],
        "stream": request["stream"],
        "store": False,
        **_openai_options(request),
    }
    if tools := request.get("tools"):
        responses["tools"] = [{"type": "function", **_function(t), "strict": False} for t in tools]
    return responses


def to_gemini(request: Body) -> Body:
    """A GenerateContentRequest. The model and whether to stream are in the URL, not here."""
    names = {
        b["id"]: b["name"]
        for m in request["messages"]
        for b in _blocks(m)
        if b["type"] == "tool_use"
    }
    contents: list[Body] = []
    for message in request["messages"]:
        parts: list[Body] = []
        for block in _blocks(message):
            match block["type"]:
                case "text":
                    parts.append({"text": block["text"]})
                case "tool_use":
                    call = {"id": block["id"], "name": block["name"], "args": block["input"]}
                    parts.append({"functionCall": call})
                case "tool_result":
                    call_id = block["tool_use_id"]
                    response = {"output": _result_text(block)}
                    answer = {"id": call_id, "name": names[call_id], "response": response}
                    parts.append({"functionResponse": answer})
        role = "model" if message["role"] == "assistant" else "user"
        contents.append({"role": role, "parts": parts})
    gemini: Body = {
        "contents": contents,
        "systemInstruction": {"parts": [{"text": text} for text in _system_texts(request)]},
        "generationConfig": {"maxOutputTokens": request["max_tokens"], **_temperature(request)},
    }
    if tools := request.get("tools"):
        declarations = [
            {
                "name": t["name"],
                "description": t["description"],
                "parametersJsonSchema": t["input_schema"],
            }
            for t in tools
        ]
        gemini["tools"] = [{"functionDeclarations": declarations}]
    return gemini


# Each format by name, for the sizes printed below.
FORMATS: dict[str, Callable[[Body], Body]] = {
    "anthropic": lambda request: request,
    "chat": to_openai_chat,
    "responses": to_openai_responses,
    "gemini": to_gemini,
}


if __name__ == "__main__":
    for body_name in BODIES:
        data = BODIES[body_name]("gemini-2.5-flash", False)
        sizes = ", ".join(f"{name} {len(orjson.dumps(to(data))):,}" for name, to in FORMATS.items())
        print(
            f"{body_name}: {len(data.get('tools', []))} tools, {len(data['messages'])} messages; "
            f"bytes as {sizes}"
        )
