"""A stand-in upstream that records what an agent CLI sends and answers just enough to go on.

Used to capture the real requests of Codex CLI (OpenAI Responses API) and gemini-cli (Gemini
generateContent API) for tests/fixtures/ingress/. Each request is logged with its method, path,
query, headers (credentials redacted) and body. The answers follow one script per wire format:
the first model turn asks for the CLI's shell tool to run `echo <token>`, the turn after the
tool's output is a final text. Other requests (token counts, model lists, the CLI's own
side-queries) get a minimal valid answer and are logged like the rest.

Run by hand: `python -m tests.e2e.capture_server --port 8765 --out /tmp/capture`.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REDACTED_HEADERS = frozenset({"authorization", "x-goog-api-key", "api-key", "x-api-key"})
SHELL_TOOL_NAMES = ("shell", "exec_command", "shell_command", "local_shell")
FINAL_TEXT = "The command printed the token."


@dataclass
class Captured:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Capture:
    """The requests seen so far and the token the scripted shell call echoes."""

    token: str
    requests: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Captured) -> None:
        with self.lock:
            self.requests.append(request)


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in REDACTED_HEADERS else v) for k, v in headers.items()}


def sse(events: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    frames = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        frames.append(f"{head}data: {json.dumps(data)}\n\n")
    return "".join(frames).encode()


# --- OpenAI Responses (Codex) ---------------------------------------------------------------


def responses_tool_name(body: dict[str, Any]) -> str:
    """The shell tool Codex declared (function tools carry `name`; `local_shell` is a type)."""
    names = [t.get("name") or t.get("type") for t in body.get("tools", [])]
    for wanted in SHELL_TOOL_NAMES:
        if wanted in names:
            return wanted
    raise ValueError(f"no shell tool among {names}")


def has_tool_output(items: list[dict[str, Any]], kinds: tuple[str, ...]) -> bool:
    return any(isinstance(i, dict) and i.get("type") in kinds for i in items)


def responses_shell_arguments(tool: str, token: str) -> str:
    if tool == "exec_command":
        return json.dumps({"cmd": f"echo {token}"})
    if tool == "shell_command":
        return json.dumps({"command": f"echo {token}"})
    return json.dumps({"command": ["bash", "-lc", f"echo {token}"]})


def responses_stream(body: dict[str, Any], token: str, turn: int) -> bytes:
    """A Responses SSE stream: a function call on the first turn, a message after it."""
    response_id = f"resp_capture_{turn}"
    model = body.get("model", "model")
    base = {
        "id": response_id,
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    if has_tool_output(body.get("input", []), ("function_call_output", "local_shell_call_output")):
        item: dict[str, Any] = {
            "type": "message",
            "id": f"msg_capture_{turn}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": FINAL_TEXT, "annotations": []}],
        }
    else:
        tool = responses_tool_name(body)
        item = {
            "type": "function_call",
            "id": f"fc_capture_{turn}",
            "call_id": f"call_capture_{turn}",
            "name": tool,
            "arguments": responses_shell_arguments(tool, token),
            "status": "completed",
        }
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 110,
    }
    events: list[tuple[str | None, dict[str, Any]]] = [
        (
            "response.created",
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": {**base, "status": "in_progress"},
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": 1,
                "output_index": 0,
                "item": {**item, "status": "in_progress"},
            },
        ),
    ]
    if item["type"] == "message":
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": 2,
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": FINAL_TEXT,
                    "logprobs": [],
                },
            )
        )
    events += [
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": 3,
                "output_index": 0,
                "item": item,
            },
        ),
        (
            "response.completed",
            {
                "type": "response.completed",
                "sequence_number": 4,
                "response": {**base, "status": "completed", "output": [item], "usage": usage},
            },
        ),
    ]
    return sse(events)


# --- Gemini generateContent (gemini-cli) ----------------------------------------------------


def gemini_has_function_response(body: dict[str, Any]) -> bool:
    contents = body.get("contents", [])
    last = contents[-1] if contents else {}
    return any("functionResponse" in p for p in last.get("parts", []))


def gemini_answer(body: dict[str, Any], token: str) -> dict[str, Any]:
    declared = [
        d.get("name") for t in body.get("tools", []) for d in t.get("functionDeclarations", [])
    ]
    if "run_shell_command" in declared and not gemini_has_function_response(body):
        part: dict[str, Any] = {
            "functionCall": {"name": "run_shell_command", "args": {"command": f"echo {token}"}}
        }
    elif body.get("generationConfig", {}).get("responseMimeType") == "application/json":
        # A side-query with a JSON schema (e.g. the next-speaker check): the model speaks next.
        part = {"text": json.dumps({"reasoning": "done", "next_speaker": "user"})}
    else:
        part = {"text": FINAL_TEXT}
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 10,
            "totalTokenCount": 110,
        },
        "modelVersion": body.get("model", "gemini-2.5-flash"),
    }


# --- the server -----------------------------------------------------------------------------


def make_handler(capture: Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def read_body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None
            try:
                return json.loads(raw)
            except ValueError:
                return raw.decode("utf-8", "replace")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self) -> None:
            url = urlsplit(self.path)
            body = self.read_body()
            capture.record(
                Captured(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    redact(dict(self.headers.items())),
                    body,
                )
            )
            turn = len(capture.requests)
            data = body if isinstance(body, dict) else {}
            if url.path.endswith("/responses") and self.command == "POST":
                self.reply(200, responses_stream(data, capture.token, turn), "text/event-stream")
            elif url.path.endswith(":streamGenerateContent"):
                answer = gemini_answer(data, capture.token)
                self.reply(200, sse([(None, answer)]), "text/event-stream")
            elif url.path.endswith(":generateContent"):
                answer = gemini_answer(data, capture.token)
                self.reply(200, json.dumps(answer).encode(), "application/json")
            elif url.path.endswith(":countTokens"):
                self.reply(200, b'{"totalTokens": 100}', "application/json")
            elif url.path.endswith("/models") and self.command == "GET":
                self.reply(200, b'{"object": "list", "data": [], "models": []}', "application/json")
            else:
                self.reply(
                    404, b'{"error": {"code": 404, "message": "not captured"}}', "application/json"
                )

        do_GET = do_POST = do_PUT = do_DELETE = do_CONNECT = handle_any

    return Handler


@contextmanager
def serve_capture(token: str, port: int = 0) -> Iterator[tuple[str, Capture]]:
    """A capture server on 127.0.0.1; yields its base URL (no path) and the capture."""
    capture = Capture(token)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(capture))
    thread = threading.Thread(target=server.serve_forever, name="capture", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", capture
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def dump(capture: Capture, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for number, request in enumerate(capture.requests, 1):
        record = {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": request.headers,
            "body": request.body,
        }
        (out / f"{number:02d}.json").write_text(json.dumps(record, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--token", default="capture-token-1234")
    args = parser.parse_args()
    with serve_capture(args.token, args.port) as (url, capture):
        print(url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            dump(capture, args.out)


if __name__ == "__main__":
    main()
