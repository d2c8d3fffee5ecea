"""A fake Azure OpenAI resource: Azure's front door over the fake OpenAI (tests.fakes.openai).

It serves what one resource (`https://{resource}.openai.azure.com`) serves for chat:

    POST /openai/deployments/{deployment}/chat/completions?api-version=<dated version>
    POST /openai/v1/chat/completions          (the v1 API: the deployment is the body's model)

and refuses what Azure refuses, in Azure's words and statuses:

- a missing or unknown api-version on the deployments path: 404 `Resource not found`
  (Azure's answer, not a 400); an api-version other than `preview`/`latest` on v1: 400;
- neither a valid `api-key` (the resource's key) nor a live Entra ID token issued by the fake
  managed identity endpoint for the Cognitive Services audience: 401;
- a deployment the resource does not have: 404 `DeploymentNotFound`;
- a token whose principal lacks the "Cognitive Services OpenAI User" role: 401
  `PermissionDenied` naming the data action (that is the status Azure sends);
- a prompt scripted to trip the content filter (`filter_next`): 400 `content_filter` with
  `innererror.content_filter_result`.

What passes is forwarded over HTTP to the inner fake OpenAI with `model` set to the
deployment's model, which validates the body against the openai SDK's types and answers from
its script; its answer comes back as Azure sends it (a first stream chunk with
`prompt_filter_results` and no choices; rate limits and its other errors reshaped as Azure's).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from .azure_identity_endpoint import FakeManagedIdentity
from .openai import API_KEY as INNER_KEY
from .openai import FakeOpenAI
from .server import BackgroundServer

RESOURCE_KEY = "0123456789abcdef0123456789abcdef"
AUDIENCE = "https://cognitiveservices.azure.com"
ROLE = "Cognitive Services OpenAI User"
DATA_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
API_VERSIONS = frozenset({"2024-06-01", "2024-10-21", "2025-04-01-preview"})
V1_API_VERSIONS = frozenset({"preview", "latest"})
BAD_CREDENTIALS = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)
FILTERED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry."
)
CATEGORIES = ("hate", "self_harm", "sexual", "violence")


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Filtered:
    """The next prompt trips Azure's content filter in these categories (severity each)."""

    categories: dict[str, str] = field(default_factory=lambda: {"violence": "medium"})


class FakeAzureOpenAI:
    def __init__(
        self,
        inner: FakeOpenAI,
        *,
        deployments: dict[str, str],
        identity: FakeManagedIdentity | None = None,
        role_holders: set[str] | None = None,
    ) -> None:
        """`deployments`: deployment name -> model; `role_holders`: principals granted the
        role (default: every identity the endpoint knows)."""
        self.inner = inner
        self.deployments = dict(deployments)
        self.identity = identity
        self.role_holders = role_holders
        self.received: list[Received] = []
        # (status, Azure's code) of each request the front door itself refused.
        self.refusals: list[tuple[int, str]] = []
        self._filters: deque[Filtered] = deque()
        self._lock = threading.Lock()
        self._inner_url = ""

    def filter_next(self, filtered: Filtered | None = None) -> None:
        with self._lock:
            self._filters.append(filtered or Filtered())

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.refusals.clear()
            self._filters.clear()

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Run the inner fake and the front door; yield the resource's base URL."""
        app = web.Application()
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._dated)
        app.router.add_post("/openai/v1/chat/completions", self._v1)
        with self.inner.serve() as inner_url, BackgroundServer(app, name="fake-azure") as door:
            self._inner_url = inner_url
            yield door.base_url

    # --- the two URL forms -------------------------------------------------------------------

    async def _dated(self, request: web.Request) -> web.StreamResponse:
        version = request.query.get("api-version")
        if version not in API_VERSIONS:
            return self._refuse(404, "404", "Resource not found")
        return await self._serve(request, request.match_info["deployment"], version)

    async def _v1(self, request: web.Request) -> web.StreamResponse:
        version = request.query.get("api-version")
        if version is not None and version not in V1_API_VERSIONS:
            return self._refuse(400, "BadRequest", "API version not supported")
        body = await _json(request)
        deployment = body.get("model") if isinstance(body, dict) else None
        if not isinstance(deployment, str):
            return self._refuse(400, "BadRequest", "The 'model' field is required.")
        return await self._serve(request, deployment, "v1")

    async def _serve(
        self, request: web.Request, deployment: str, version: str
    ) -> web.StreamResponse:
        body = await _json(request)
        with self._lock:
            self.received.append(
                Received(request.path, dict(request.query), dict(request.headers), body)
            )
        principal = self._authenticate(request)
        if principal is None:
            return self._refuse(401, "401", BAD_CREDENTIALS)
        if deployment not in self.deployments:
            return self._refuse(404, "DeploymentNotFound", NO_DEPLOYMENT)
        if not self._may_call(principal):
            return self._refuse(
                401,
                "PermissionDenied",
                f"The principal `{principal}` lacks the required data action `{DATA_ACTION}` "
                "to perform `POST /openai/deployments/{deployment-id}/chat/completions` "
                "operation.",
            )
        with self._lock:
            filtered = self._filters.popleft() if self._filters else None
        if filtered is not None:
            return self._content_filter(filtered)
        if not isinstance(body, dict):
            return self._refuse(400, "BadRequest", "The request body must be a JSON object.")
        return await self._forward(request, {**body, "model": self.deployments[deployment]})

    def _authenticate(self, request: web.Request) -> str | None:
        """The principal: "key" for the resource key, a token's principal, else None."""
        if request.headers.get("api-key") == RESOURCE_KEY:
            return "key"
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.identity is None:
            return None
        return self.identity.principal_of(token, AUDIENCE)

    def _may_call(self, principal: str) -> bool:
        """A key may call everything; a token's principal needs the role."""
        return principal == "key" or self.role_holders is None or principal in self.role_holders

    # --- forwarding ----------------------------------------------------------------------------

    async def _forward(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        headers = {"authorization": f"Bearer {INNER_KEY}", "content-type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self._inner_url}/chat/completions", data=json.dumps(body), headers=headers
            ) as answer,
        ):
            if answer.status != 200:
                return self._reshape_error(answer.status, answer.headers, await answer.read())
            if body.get("stream") is not True:
                completion = await answer.json()
                completion["prompt_filter_results"] = [_prompt_filter_result()]
                return web.json_response(completion)
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            # Azure's stream opens with its prompt filter's verdict, a chunk with no choices.
            first = {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [_prompt_filter_result()],
            }
            await response.write(b"data: " + json.dumps(first).encode() + b"\n\n")
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    def _reshape_error(self, status: int, headers: Any, body: bytes) -> web.Response:
        if status == 429:
            seconds = headers.get("retry-after", "1")
            message = (
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                "have exceeded token rate limit of your current OpenAI S0 pricing tier. "
                f"Please retry after {seconds} seconds."
            )
            extra = {"retry-after": seconds, "retry-after-ms": str(int(float(seconds) * 1000))}
            return _azure_error(429, "429", message, extra)
        if status == 401:
            return _azure_error(401, "401", BAD_CREDENTIALS)
        if status == 404:
            return _azure_error(404, "DeploymentNotFound", NO_DEPLOYMENT)
        # Everything else Azure passes on in OpenAI's own shape.
        return web.Response(status=status, body=body, content_type="application/json")

    def _content_filter(self, filtered: Filtered) -> web.Response:
        results: dict[str, Any] = {
            category: {
                "filtered": category in filtered.categories,
                "severity": filtered.categories.get(category, "safe"),
            }
            for category in CATEGORIES
        }
        results["jailbreak"] = {"filtered": False, "detected": False}
        error = {
            "message": FILTERED,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": results,
            },
        }
        with self._lock:
            self.refusals.append((400, "content_filter"))
        return web.json_response({"error": error}, status=400)

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        """The front door's own refusal (not one of the inner fake's errors reshaped)."""
        with self._lock:
            self.refusals.append((status, code))
        return _azure_error(status, code, message)


def _azure_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError:
        return None


def _prompt_filter_result() -> dict[str, Any]:
    results: dict[str, Any] = {c: {"filtered": False, "severity": "safe"} for c in CATEGORIES}
    results["jailbreak"] = {"filtered": False, "detected": False}
    return {"prompt_index": 0, "content_filter_results": results}
