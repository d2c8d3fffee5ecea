"""A fake Vertex AI front door on real HTTP, over the fake Gemini and the fake Anthropic.

    with FakeVertex(google, gemini=FakeGemini(), anthropic=FakeAnthropic()) as vertex:
        ...providers.vertex.base_url = vertex.base_url, google-auth pointed at `google`...

    POST /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}

What it checks, in the platform's order and words, before anything reaches a model:
  1. `authorization: Bearer <token>`, a token the fake token issuers handed out and still live
     (tests.fakes.gcp_metadata): 401 UNAUTHENTICATED otherwise;
  2. the project and location are the fake's, and the caller may predict (the permission is
     in `google.granted`, as Cloud Resource Manager says too): 403
     PERMISSION_DENIED on the model's resource otherwise, as IAM says it;
  3. the method is one the publisher serves (google: generateContent, streamGenerateContent,
     countTokens; anthropic: rawPredict, streamRawPredict; the `count-tokens` model: rawPredict);
  4. for Claude, the body: `anthropic_version` is "vertex-2023-10-16" and `model` is not in it
     (in it, and required, for count-tokens), refused in the words Vertex's Claude uses.
Then it forwards over HTTP to the inner fake, which validates the body against its own schema
and answers from its script: Gemini's v1beta `models/{model}:{method}` (a countTokens body
wrapped as generativelanguage wants it), Anthropic's `/v1/messages[/count_tokens]` (model from
the URL, version as a header). Answers come back as the inner fake wrote them, streamed, but
errors reshaped as Vertex gives them (a 404 names the publisher model, Claude's 429 is the
platform's quota error). `enqueue` takes the inner fake's replies and `PlatformReply`s that
Vertex answers itself, in one order.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from ai_proxy.config import VERTEX_BETAS
from aiohttp import web

from . import anthropic as fake_anthropic
from . import gemini as fake_gemini
from .gcp_metadata import FakeGoogleAuth
from .gemini_errors import RPC, encode, error_body
from .server import BackgroundServer, ServedFake

# The betas Vertex AI takes for Claude; the gateway's default for providers.vertex.betas too.
VERTEX_ACCEPTS = frozenset(VERTEX_BETAS)
ANTHROPIC_VERSION = "vertex-2023-10-16"
PERMISSION = "aiplatform.endpoints.predict"
SERVICE = "aiplatform.googleapis.com"
METHODS = {
    "google": ("generateContent", "streamGenerateContent", "countTokens"),
    "anthropic": ("rawPredict", "streamRawPredict"),
}
CLAUDE_MODEL = re.compile(r"claude-[a-z0-9.\-]+(@\d{8})?")
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# Hop-by-hop and framing headers of the inner answer that aiohttp sets again itself.
_NOT_RELAYED = {"content-length", "transfer-encoding", "connection", "date", "server"}


@dataclass(frozen=True)
class PlatformReply:
    """An answer Vertex itself gives, before any model sees the request (quota, 5xx...)."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def quota_exceeded(model: str) -> PlatformReply:
    return PlatformReply(
        429,
        error_body(
            429,
            f"Quota exceeded for {SERVICE}/online_prediction_requests_per_base_model with base "
            f"model: {model}. Please submit a quota increase request. "
            "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
        ),
    )


def resource_exhausted() -> PlatformReply:
    """Gemini's rate limit on Vertex: shared capacity, no RetryInfo to say when."""
    return PlatformReply(
        429,
        error_body(
            429,
            "Resource exhausted. Please try again later. Please refer to "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more "
            "details.",
        ),
    )


def unauthenticated(reason: str = "ACCESS_TOKEN_EXPIRED") -> PlatformReply:
    return PlatformReply(
        401,
        error_body(
            401,
            _UNAUTHENTICATED,
            details=[
                {
                    "@type": RPC + "ErrorInfo",
                    "reason": reason,
                    "domain": "googleapis.com",
                    "metadata": {"service": SERVICE, "method": "google.cloud.aiplatform.v1"},
                }
            ],
        ),
    )


def permission_denied(resource: str) -> PlatformReply:
    return PlatformReply(
        403,
        error_body(
            403,
            f"Permission '{PERMISSION}' denied on resource '//{SERVICE}/{resource}' (or it "
            "may not exist).",
            details=[
                {
                    "@type": RPC + "ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "iam.googleapis.com",
                    "metadata": {"permission": PERMISSION, "resource": resource},
                }
            ],
        ),
    )


def model_not_found(resource: str) -> PlatformReply:
    return PlatformReply(
        404,
        error_body(
            404,
            f"Publisher Model `{resource}` was not found or your project does not have "
            "access to it. Please ensure you are using a valid model version.",
        ),
    )


def claude_refusal(status: int, error_type: str, message: str) -> PlatformReply:
    """Claude's own answer through Vertex: Anthropic's shape, a Vertex request id."""
    body = {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": "req_vrtx_011FakeVertex",
    }
    return PlatformReply(status, body)


@dataclass
class VertexRequest:
    """One request as the fake received it; `status` is what it answered."""

    project: str
    location: str
    publisher: str
    model: str
    method: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    token: str | None = None
    status: int | None = None

    @property
    def resource(self) -> str:
        return (
            f"projects/{self.project}/locations/{self.location}/publishers/"
            f"{self.publisher}/models/{self.model}"
        )

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakeVertex(ServedFake):
    def __init__(
        self,
        google: FakeGoogleAuth,
        *,
        gemini: fake_gemini.FakeGemini | None = None,
        anthropic: fake_anthropic.FakeAnthropic | None = None,
        project: str | None = None,
        location: str = "global",
    ) -> None:
        """Starts and stops `google` and the inner fakes with itself."""
        self.google = google
        self.gemini = gemini or fake_gemini.FakeGemini()
        self.anthropic = anthropic or fake_anthropic.FakeAnthropic()
        self.project = project or google.project
        self.location = location
        self.requests: list[VertexRequest] = []
        self._script: deque[object] = deque()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application()
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{tail}",
            self._handle,
        )
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        self._server = BackgroundServer(app, name="fake-vertex")

    def start(self) -> Self:
        for fake in (self.google, self.gemini, self.anthropic):
            fake.start()
        self._server.start()
        return self

    def stop(self) -> None:
        # The inner fakes first: a reply hanging there ends, and with it the relay here.
        for fake in (self.anthropic, self.gemini, self.google):
            fake.stop()
        self._server.stop()

    # --- script --------------------------------------------------------------------------------

    def enqueue(self, *replies: object) -> None:
        """`PlatformReply`s Vertex answers itself; anything else is the inner fake's reply,
        handed to it when the request it answers arrives."""
        self._script.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._script) + self.gemini.pending + self.anthropic.pending

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.google.granted.add(PERMISSION)
        self.gemini.reset()
        self.anthropic.reset()

    # --- handling -----------------------------------------------------------------------------

    async def _on_startup(self, app: web.Application) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["tail"].rpartition(":")
        recorded = VertexRequest(
            project=request.match_info["project"],
            location=request.match_info["location"],
            publisher=request.match_info["publisher"],
            model=model,
            method=method,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
        )
        self.requests.append(recorded)
        refusal = self._check(recorded)
        head = self._script[0] if self._script else None
        if refusal is None and isinstance(head, PlatformReply):
            self._script.popleft()
            refusal = head
        if refusal is not None:
            return _answer(recorded, refusal)
        if self._script and method != "countTokens" and model != "count-tokens":
            inner = self.anthropic if recorded.publisher == "anthropic" else self.gemini
            inner.enqueue(self._script.popleft())  # type: ignore[arg-type]
        if recorded.publisher == "anthropic":
            return await self._forward_claude(request, recorded)
        return await self._forward_gemini(request, recorded)

    def _check(self, recorded: VertexRequest) -> PlatformReply | None:
        scheme, _, token = recorded.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return unauthenticated("CREDENTIALS_MISSING")
        recorded.token = token
        if self.google.tokens.find(token) is None:
            return unauthenticated()
        if recorded.project != self.project or recorded.location != self.location:
            return permission_denied(recorded.resource)
        if PERMISSION not in self.google.granted:
            return permission_denied(recorded.resource)
        methods = METHODS.get(recorded.publisher, ())
        if recorded.model == "count-tokens" and recorded.publisher == "anthropic":
            methods = ("rawPredict",)
        if recorded.method not in methods:
            return PlatformReply(404, error_body(404, "Method not found."))
        if recorded.publisher == "anthropic":
            return self._claude_body_problem(recorded)
        return None

    def _claude_body_problem(self, recorded: VertexRequest) -> PlatformReply | None:
        if recorded.model != "count-tokens" and not CLAUDE_MODEL.fullmatch(recorded.model):
            return model_not_found(recorded.resource)
        try:
            body = recorded.json
        except (json.JSONDecodeError, UnicodeDecodeError):
            return claude_refusal(400, "invalid_request_error", "Invalid JSON body")
        if not isinstance(body, dict):
            return claude_refusal(400, "invalid_request_error", "Input should be an object")
        version = body.get("anthropic_version")
        if version is None:
            return claude_refusal(400, "invalid_request_error", "anthropic_version: Field required")
        if version != ANTHROPIC_VERSION:
            # Vertex answers any other version (Anthropic's own "2023-06-01" included) with 404.
            return model_not_found(recorded.resource)
        counting = recorded.model == "count-tokens"
        if "model" in body and not counting:
            return claude_refusal(
                400, "invalid_request_error", "model: Extra inputs are not permitted"
            )
        if "model" not in body and counting:
            return claude_refusal(400, "invalid_request_error", "model: Field required")
        return _beta_problem(recorded.headers.get("anthropic-beta"), counting)

    # --- forwarding ---------------------------------------------------------------------------

    async def _forward_claude(
        self, request: web.Request, recorded: VertexRequest
    ) -> web.StreamResponse:
        body = recorded.json
        del body["anthropic_version"]
        counting = recorded.model == "count-tokens"
        if not counting:
            body = {"model": recorded.model, **body}
        headers = {
            "content-type": "application/json",
            "x-api-key": self.anthropic.api_key,
            "anthropic-version": "2023-06-01",
        }
        if "anthropic-beta" in recorded.headers:
            headers["anthropic-beta"] = recorded.headers["anthropic-beta"]
        path = "/v1/messages/count_tokens" if counting else "/v1/messages"
        url = self.anthropic.base_url + path
        return await self._relay(request, recorded, url, json.dumps(body).encode(), headers)

    async def _forward_gemini(
        self, request: web.Request, recorded: VertexRequest
    ) -> web.StreamResponse:
        body = recorded.body
        if recorded.method == "countTokens":
            prompt = json.loads(body)
            if "generateContentRequest" in prompt:
                # Vertex's CountTokensRequest is the prompt itself.
                problem = (
                    'Invalid JSON payload received. Unknown name "generateContentRequest": '
                    "Cannot find field."
                )
                return _answer(recorded, PlatformReply(400, error_body(400, problem)))
            wrapped = {"model": f"models/{recorded.model}", **prompt}
            body = json.dumps({"generateContentRequest": wrapped}).encode()
        url = f"{self.gemini.base_url}/v1beta/models/{recorded.model}:{recorded.method}"
        if request.query_string:
            url += "?" + request.query_string
        headers = {"content-type": "application/json", "x-goog-api-key": self.gemini.api_key}
        return await self._relay(request, recorded, url, body, headers)

    async def _relay(
        self,
        request: web.Request,
        recorded: VertexRequest,
        url: str,
        body: bytes,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        assert self._session is not None
        async with self._session.post(url, data=body, headers=headers) as inner:
            if inner.status != 200:
                reshaped = self._reshaped(recorded, inner.status, await inner.read())
                if reshaped is not None:
                    return _answer(recorded, reshaped)
            relayed = {k: v for k, v in inner.headers.items() if k.lower() not in _NOT_RELAYED}
            response = web.StreamResponse(status=inner.status, headers=relayed)
            recorded.status = inner.status
            await response.prepare(request)
            try:
                if inner.status != 200:
                    await response.write(await inner.read())
                else:
                    async for piece in inner.content.iter_any():
                        await response.write(piece)
            except (aiohttp.ClientError, ConnectionError):
                # The inner fake cut its answer: so does Vertex.
                if request.transport is not None:
                    request.transport.abort()
                return response
            await response.write_eof()
            return response

    def _reshaped(self, recorded: VertexRequest, status: int, body: bytes) -> PlatformReply | None:
        """An inner error as Vertex words it, or None to pass it on as it came."""
        if recorded.publisher == "google" and status == 404:
            return model_not_found(recorded.resource)
        if recorded.publisher == "google" and status == 429:
            return resource_exhausted()
        if status == 429 and recorded.publisher == "anthropic":
            # Claude's rate limits on Vertex are the project's quota, said by the platform.
            return quota_exceeded(f"anthropic-{recorded.model.partition('@')[0]}")
        return None


def _beta_problem(header: str | None, counting: bool) -> PlatformReply | None:
    """Vertex refuses a beta it does not take, and on its counting endpoint every beta, in
    Anthropic's words."""
    betas = [beta.strip() for beta in (header or "").split(",") if beta.strip()]
    unexpected = betas if counting else [beta for beta in betas if beta not in VERTEX_ACCEPTS]
    if not unexpected:
        return None
    named = ", ".join(f"`{beta}`" for beta in unexpected)
    return claude_refusal(
        400,
        "invalid_request_error",
        f"Unexpected value(s) {named} for the `anthropic-beta` header. Please consult our "
        "documentation at docs.anthropic.com or try again without the header.",
    )


def _answer(recorded: VertexRequest, reply: PlatformReply) -> web.Response:
    recorded.status = reply.status
    return web.Response(
        status=reply.status,
        body=encode(reply.body),
        headers={"Content-Type": "application/json; charset=UTF-8", **dict(reply.headers)},
    )
