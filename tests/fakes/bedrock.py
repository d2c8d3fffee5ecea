"""A fake Amazon Bedrock Runtime (Claude) on real HTTP, for tests.

    with FakeBedrock() as fake:
        fake.enqueue(text_reply("Hello"))   # tests.fakes.anthropic replies, or Bedrock-only ones
        ...providers.bedrock: enabled, region us-east-1, base_url fake.base_url;
           AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS...

What it checks, in Bedrock's order and words (status, `x-amzn-ErrorType`, `{"message"}`):
  1. authentication: a SigV4 signature recomputed from the credentials it knows
     (tests.fakes.sigv4, not botocore), or `Authorization: Bearer` with a Bedrock API key it
     knows; no client key anywhere in the headers;
  2. the operation and model: `/model/{id}/invoke`, `/invoke-with-response-stream`,
     `/count-tokens` (a foundation model id only); AccessDenied for a model it is told to deny;
  3. the body under Bedrock's rules for Claude: JSON, `anthropic_version` "bedrock-2023-05-31",
     no `model`, no `stream`, `anthropic_beta` a list of strings, `max_tokens` present.
Then it serves Anthropic's semantics through an inner `FakeAnthropic` (over HTTP, so its
scripting, schema validation and replies are the ones every Anthropic test uses) and answers:
JSON as it came, a stream as eventstream `chunk` messages (message_stop with Bedrock's
invocation metrics), the inner fake's errors as Bedrock's exceptions, an inner `error` event
as an exception message. Bedrock-only behaviours: `Streamed` (messages split across writes at
given byte offsets, an exception message after N events), `BedrockError`, `deny(model)`,
`cannot_count(model)`. `FakeContainerCredentials` is the ECS/Lambda credentials endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp
from ai_proxy.config import BEDROCK_BETAS
from aiohttp import web

from .anthropic import FakeAnthropic, MessageReply
from .anthropic import Reply as AnthropicReply
from .eventstream import encode_message
from .server import BackgroundServer, ServedFake
from .sigv4 import INVALID_TOKEN, Credentials, verify

TEST_CREDENTIALS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
REGION = "us-east-1"
ACCOUNT = "123456789012"
VERSION = "bedrock-2023-05-31"
# The betas Bedrock's InvokeModel takes for Claude: AWS's documented list, which the gateway's
# default for providers.bedrock.betas is too; any other makes Bedrock refuse the request.
BEDROCK_ACCEPTS = frozenset(BEDROCK_BETAS)
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_PROFILE = re.compile(r"^(?:us|eu|apac|jp|au|ca|us-gov|global)\.")
Operation = Literal["InvokeModel", "InvokeModelWithResponseStream", "CountTokens"]
_OPERATIONS: dict[str, Operation] = {
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}


@dataclass(frozen=True)
class BedrockError:
    """Answer this Bedrock error instead of serving the request."""

    status: int
    name: str
    message: str


@dataclass(frozen=True)
class StreamException:
    """An exception message in the stream (`:exception-type`), ending it."""

    name: str  # lower camel case, as in the stream: "modelStreamErrorException"
    message: str


@dataclass(frozen=True)
class Streamed:
    """A streamed reply with Bedrock-only behaviour: the inner reply's events, written in
    pieces cut at `split_at` byte offsets of the whole stream, and `exception` after
    `exception_after_events` events."""

    reply: MessageReply
    split_at: tuple[int, ...] = ()
    exception: StreamException | None = None
    exception_after_events: int = 0


Scripted = AnthropicReply | BedrockError | Streamed


@dataclass
class BedrockRequest:
    operation: Operation
    model_id: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None  # the InvokeModel body (for CountTokens: the one inside `input`)
    status: int | None = None
    sent: bytearray = field(default_factory=bytearray)


class FakeBedrock(ServedFake):
    def __init__(
        self,
        *,
        region: str = REGION,
        credentials: Iterable[Credentials] = (TEST_CREDENTIALS,),
        api_keys: Collection[str] = (),
        client_keys: Collection[str] = (),
    ) -> None:
        self.region = region
        self.known = {c.access_key: c for c in credentials}
        self.api_keys = frozenset(api_keys)
        self.client_keys = frozenset(client_keys)
        self.inner = FakeAnthropic(client_keys=client_keys)
        self.requests: list[BedrockRequest] = []
        # Refusals nobody scripted: (exception name, message); a clean test leaves none.
        self.refusals: list[tuple[str, str]] = []
        self.leaks: list[str] = []
        self.denied: set[str] = set()
        self.uncountable: set[str] = set()
        self._script: deque[Scripted] = deque()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application()
        app.router.add_post("/model/{model_id}/{operation}", self._handle)
        app.on_cleanup.append(self._close_session)
        self._server = BackgroundServer(app, name="fake-bedrock")

    def start(self) -> FakeBedrock:
        self.inner.start()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.inner.stop()

    def enqueue(self, *replies: Scripted) -> None:
        """Answers for the next InvokeModel calls, in order."""
        self._script.extend(replies)

    def accept(self, credentials: Credentials) -> None:
        """Know one more set of credentials (the container endpoint hands them out)."""
        self.known[credentials.access_key] = credentials

    def deny(self, model_id: str) -> None:
        self.denied.add(model_id)

    def cannot_count(self, model_id: str) -> None:
        self.uncountable.add(model_id)

    @property
    def pending(self) -> int:
        return len(self._script) + self.inner.pending

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.refusals.clear()
        self.leaks.clear()
        self.denied.clear()
        self.uncountable.clear()
        self.inner.reset()

    # --- handling -----------------------------------------------------------------------------

    async def _close_session(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        operation = _OPERATIONS.get(request.match_info["operation"])
        if operation is None:
            raise web.HTTPNotFound()
        recorded = BedrockRequest(
            operation,
            request.match_info["model_id"],
            request.raw_path,
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        self.requests.append(recorded)
        refusal = self._authenticate(recorded) or self._check(recorded)
        if refusal is not None:
            self.refusals.append((refusal.name, refusal.message))
            return _error(recorded, refusal)
        if operation == "CountTokens":
            return await self._count_tokens(recorded)
        streamed: Streamed | None = None
        match self._script.popleft() if self._script else None:
            case BedrockError() as refusal:
                return _error(recorded, refusal)
            case Streamed() as streamed:
                self.inner.enqueue(streamed.reply)
            case None:
                pass  # the inner fake's default reply
            case inner_reply:
                self.inner.enqueue(inner_reply)
        stream = operation == "InvokeModelWithResponseStream"
        inner_body = {**recorded.json, "model": _claude_name(recorded.model_id)}
        inner_body.pop("anthropic_version")
        betas = inner_body.pop("anthropic_beta", None)
        if stream:
            inner_body["stream"] = True
        async with self._inner_post("/v1/messages", inner_body, betas) as answer:
            if answer.status != 200:
                return _error(recorded, _from_inner_error(answer.status, await answer.json()))
            if not stream:
                body = await answer.read()
                recorded.status = 200
                recorded.sent += body
                return web.Response(body=body, content_type="application/json")
            frames = _frames(await answer.read(), streamed)
        return await self._send_stream(request, recorded, frames, streamed)

    def _authenticate(self, recorded: BedrockRequest) -> BedrockError | None:
        for name, value in recorded.headers.items():
            if any(key in value for key in self.client_keys):
                self.leaks.append(name)
                return BedrockError(403, "UnrecognizedClientException", INVALID_TOKEN)
        authorization = recorded.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            if authorization[7:] in self.api_keys:
                return None
            return BedrockError(403, "UnrecognizedClientException", INVALID_TOKEN)
        problem = verify(
            "POST",
            recorded.raw_path,
            recorded.headers,
            recorded.body,
            self.known,
            self.region,
            "bedrock",
        )
        return None if problem is None else BedrockError(403, *problem)

    def _check(self, recorded: BedrockRequest) -> BedrockError | None:
        action = f"bedrock:{recorded.operation}"
        if recorded.model_id in self.denied:
            return BedrockError(
                403,
                "AccessDeniedException",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/gateway/fake is not authorized to "
                f"perform: {action} on resource: {_resource(recorded.model_id, self.region)} "
                f"because no identity-based policy allows the {action} action",
            )
        if recorded.headers.get("content-type", "").split(";")[0] != "application/json":
            return _validation("The provided content type is not supported.")
        try:
            payload = json.loads(recorded.body)
            if recorded.operation == "CountTokens":
                payload = json.loads(base64.b64decode(payload["input"]["invokeModel"]["body"]))
        except (ValueError, KeyError, TypeError):
            return _validation("Malformed input request, please reformat your input and try again.")
        recorded.json = payload
        return body_problem(payload)

    async def _count_tokens(self, recorded: BedrockRequest) -> web.Response:
        if _PROFILE.match(recorded.model_id):
            refusal = _validation("The provided model identifier is invalid.")
            self.refusals.append((refusal.name, refusal.message))
            return _error(recorded, refusal)
        if recorded.model_id in self.uncountable:
            return _error(
                recorded, _validation("The provided model doesn't support counting tokens.")
            )
        body = {**recorded.json, "model": _claude_name(recorded.model_id)}
        for name in ("anthropic_version", "max_tokens"):
            body.pop(name)
        betas = body.pop("anthropic_beta", None)
        async with self._inner_post("/v1/messages/count_tokens", body, betas) as answer:
            payload = await answer.json()
            if answer.status != 200:
                return _error(recorded, _from_inner_error(answer.status, payload))
        return _json(recorded, 200, {"inputTokens": payload["input_tokens"]})

    def _inner_post(
        self, path: str, body: dict[str, Any], betas: list[str] | None
    ) -> aiohttp.client._RequestContextManager:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"x-api-key": self.inner.api_key, "anthropic-version": "2023-06-01"}
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return self._session.post(self.inner.base_url + path, json=body, headers=headers)

    async def _send_stream(
        self,
        request: web.Request,
        recorded: BedrockRequest,
        frames: bytes,
        streamed: Streamed | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={
                "content-type": "application/vnd.amazon.eventstream",
                "x-amzn-bedrock-content-type": "application/json",
                "x-amzn-requestid": str(uuid.uuid4()),
            },
        )
        recorded.status = 200
        await response.prepare(request)
        cuts = [0, *(streamed.split_at if streamed is not None else ()), len(frames)]
        for start, end in itertools.pairwise(cuts):
            piece = frames[start:end]
            recorded.sent += piece
            await response.write(piece)
            await asyncio.sleep(0)
        await response.write_eof()
        return response


def body_problem(body: Any) -> BedrockError | None:
    """Bedrock's own rules for a Claude InvokeModel body (before Anthropic's are checked)."""
    if not isinstance(body, dict):
        return _malformed("#: expected type: JSONObject, found: " + type(body).__name__)
    problems = [f"#: extraneous key [{key}] is not permitted" for key in ("model", "stream")
                if key in body]  # fmt: skip
    if "anthropic_version" not in body:
        problems.append("#: required key [anthropic_version] not found")
    elif body["anthropic_version"] != VERSION:
        problems.append(
            f"#/anthropic_version: {body['anthropic_version']} is not a valid enum value"
        )
    if "max_tokens" not in body:
        problems.append("#: required key [max_tokens] not found")
    betas = body.get("anthropic_beta")
    if betas is not None and not (
        isinstance(betas, list) and all(isinstance(beta, str) for beta in betas)
    ):
        problems.append("#/anthropic_beta: expected type: JSONArray of strings")
    if problems:
        return _malformed("".join(problems))
    if isinstance(betas, list) and not set(betas) <= BEDROCK_ACCEPTS:
        # Bedrock refuses the whole request for a beta it does not take (Claude Code's
        # claude-code-20250219 or prompt-caching-scope-2026-01-05, for instance).
        return _validation("The model returned the following errors: invalid beta flag")
    return None


def _malformed(problem: str) -> BedrockError:
    return _validation(
        f"Malformed input request: {problem}, please reformat your input and try again."
    )


def _validation(message: str) -> BedrockError:
    return BedrockError(400, "ValidationException", message)


def _claude_name(model_id: str) -> str:
    """`us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5-20250929`."""
    name = _PROFILE.sub("", model_id).removeprefix("anthropic.")
    return re.sub(r"-v\d+(?::\d+)?$", "", name)


def _resource(model_id: str, region: str) -> str:
    if _PROFILE.match(model_id):
        return f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _from_inner_error(status: int, payload: dict[str, Any]) -> BedrockError:
    """What Bedrock answers where Anthropic would have answered `status`."""
    message = payload["error"]["message"]
    if status == 400:
        if "prompt is too long" in message:
            return _validation("Input is too long for requested model.")
        return _validation(message)
    if status == 404:
        return BedrockError(404, "ResourceNotFoundException", "Could not resolve the foundation "
                            "model from the provided model identifier.")  # fmt: skip
    if status == 429:
        return BedrockError(429, "ThrottlingException", "Too many requests, please wait before "
                            "trying again.")  # fmt: skip
    if status in (503, 529):
        return BedrockError(503, "ServiceUnavailableException", "Bedrock is unable to process "
                            "your request.")  # fmt: skip
    return BedrockError(500, "InternalServerException", "The system encountered an unexpected "
                        "error during processing. Try your request again.")  # fmt: skip


def _error(recorded: BedrockRequest, error: BedrockError) -> web.Response:
    return _json(
        recorded,
        error.status,
        {"message": error.message},
        {"x-amzn-ErrorType": f"{error.name}:{ERROR_NAMESPACE}"},
    )


def _json(
    recorded: BedrockRequest, status: int, body: Any, headers: dict[str, str] | None = None
) -> web.Response:
    recorded.status = status
    recorded.sent += json.dumps(body).encode()
    return web.Response(
        status=status,
        body=bytes(recorded.sent),
        headers={
            "content-type": "application/json",
            "x-amzn-requestid": str(uuid.uuid4()),
            **(headers or {}),
        },
    )


# --- the stream --------------------------------------------------------------------------------


def _sse_events(stream: bytes) -> Iterator[tuple[str, str]]:
    """The inner fake's SSE, (event, data) by event (it writes LF-only, one data line each)."""
    for block in stream.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            yield fields.get("event", "message"), fields["data"]


def _frames(stream: bytes, streamed: Streamed | None) -> bytes:
    frames = bytearray()
    for number, (event, data) in enumerate(_sse_events(stream)):
        if (
            streamed is not None
            and streamed.exception
            and number == streamed.exception_after_events
        ):
            return bytes(frames + exception_message(streamed.exception))
        if event == "ping":
            continue  # Bedrock does not relay Anthropic's pings
        if event == "error":
            error = json.loads(data)["error"]
            name = "serviceUnavailableException" if error["type"] == "overloaded_error" else (
                "modelStreamErrorException")  # fmt: skip
            return bytes(frames + exception_message(StreamException(name, error["message"])))
        if event == "message_stop":
            data = json.dumps({**json.loads(data), "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 21, "outputTokenCount": 9, "invocationLatency": 412,
                "firstByteLatency": 180}})  # fmt: skip
        frames += chunk_message(data.encode())
    return bytes(frames)


def chunk_message(event_json: bytes) -> bytes:
    """One `chunk` event message carrying one Anthropic event (as Bedrock pads it: `p`)."""
    payload = json.dumps({"bytes": base64.b64encode(event_json).decode(), "p": "abcdefgh"})
    headers = {":event-type": "chunk", ":content-type": "application/json",
               ":message-type": "event"}  # fmt: skip
    return encode_message(headers, payload.encode())


def exception_message(exception: StreamException) -> bytes:
    body: dict[str, Any] = {"message": exception.message}
    if exception.name == "modelStreamErrorException":
        body |= {"originalStatusCode": 500, "originalMessage": exception.message}
    headers = {":exception-type": exception.name, ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return encode_message(headers, json.dumps(body).encode())


def isolate_aws_env(monkeypatch: Any, directory: Path) -> None:
    """No AWS setting of this machine reaches botocore: no AWS_* variable, no profile file,
    no instance-metadata lookup (`monkeypatch`: pytest's)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(directory / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- the container credentials endpoint ---------------------------------------------------------


class FakeContainerCredentials(ServedFake):
    """What ECS (and Lambda) serve at AWS_CONTAINER_CREDENTIALS_FULL_URI: temporary
    credentials, new ones on every call, each known to `bedrock` as soon as handed out."""

    TOKEN = "fake-container-authorization-token"

    def __init__(self, bedrock: FakeBedrock, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.bedrock = bedrock
        self.lifetime = lifetime
        self.issued: list[Credentials] = []
        app = web.Application()
        app.router.add_get("/credentials", self._handle)
        self._server = BackgroundServer(app, name="fake-container-credentials")

    @property
    def uri(self) -> str:
        return self.base_url + "/credentials"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self.TOKEN:
            return web.json_response({"message": "unauthorized"}, status=401)
        number = len(self.issued) + 1
        credentials = Credentials(
            f"ASIAFAKECONTAINER{number:04d}", f"container-secret-{number:04d}",
            f"container-session-token-{number:04d}",
        )  # fmt: skip
        self.issued.append(credentials)
        self.bedrock.accept(credentials)
        expiration = datetime.now(UTC) + self.lifetime
        return web.json_response(
            {
                "AccessKeyId": credentials.access_key,
                "SecretAccessKey": credentials.secret_key,
                "Token": credentials.token,
                "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
