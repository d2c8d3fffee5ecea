"""Every path the gateway answers, once: its endpoint, method, access and metric label.

    path                          method     access     endpoint      metric label
    /v1/messages                  POST       metered    messages      /v1/messages
    /v1/messages/count_tokens     POST       client     count_tokens  /v1/messages/count_tokens
    /v1/chat/completions          POST       metered    openai_chat   /v1/chat/completions
    /v1/responses                 POST       metered    openai_resp.  /v1/responses
    /v1beta/models/{m}:generateContent        POST  metered  gemini
    /v1beta/models/{m}:streamGenerateContent  POST  metered  gemini
    /v1beta/models/{m}:countTokens            POST  client   gemini_count_tokens
    (the same three under /v1/models/, as google-genai 3 calls them)
    /v1/models                    GET        client     models        /v1/models
    /v1/models/{id}               GET        client     models        /v1/models/{id}
    /v1/usage                     GET        admin      usage         /v1/usage
    /openapi.json                 GET        public     openapi       other
    /  (and the empty path)       any        public     root          /
    /health/live|startup|ready    GET, HEAD  internal   probe         (not counted)
    /metrics                      GET, HEAD  internal   metrics       (not counted)

Internal routes are answered before a request record exists: probes and scrapes are neither
logged nor counted. Public routes need no client key. Admin routes need an admin key
(`auth.admin_keys`). Every other path needs a client key, unknown paths included, so a route
added without a line here is never open; an unknown path answers 404 only to a client that
presented a key. Metered routes are the ones that spend upstream tokens: only they count
against a key's limits and budgets (ai_proxy.quota); count_tokens is free upstream, so it
does not.

Each route names the dialect its clients speak (`Route.dialect`): errors, the key check
included, are answered in it (ai_proxy.ingress), so an OpenAI client gets OpenAI's error object
and a Gemini client Google's. Gemini's routes name the model in the path, and are labelled
with the path's pattern ("/v1beta/models/{model}:generateContent").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from . import probes
from .errors import InvalidRequest

EndpointName = Literal[
    "messages",
    "count_tokens",
    "openai_chat",
    "openai_responses",
    "gemini",
    "gemini_count_tokens",
    "models",
    "usage",
    "openapi",
    "root",
    "probe",
    "metrics",
]
Dialect = Literal["anthropic", "openai_chat", "openai_responses", "gemini"]
IngressName = Literal["openai_chat", "openai_responses", "gemini"]  # a dialect and its endpoint


class Access(Enum):
    PUBLIC = "public"
    CLIENT = "client"  # a client key is checked (ai_proxy.auth)
    METERED = "metered"  # a client key, then its limits and budgets (ai_proxy.quota)
    ADMIN = "admin"  # an admin key (auth.admin_keys); a client key is refused with 403
    INTERNAL = "internal"


OTHER = "other"  # a label value that stands for every value we do not name (paths, models)


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: EndpointName
    methods: tuple[str, ...]  # the first is named in a 405; empty: any method
    access: Access
    label: str
    dialect: Dialect = "anthropic"


_POST = ("POST",)
_GET = ("GET",)
_READ = ("GET", "HEAD")
_ROOT = Route("root", (), Access.PUBLIC, "/")  # Claude Code probes it with HEAD /
_PROBE = Route("probe", _READ, Access.INTERNAL, OTHER)

_EXACT: dict[str, Route] = {
    "/v1/messages": Route("messages", _POST, Access.METERED, "/v1/messages"),
    "/v1/messages/count_tokens": Route(
        "count_tokens", _POST, Access.CLIENT, "/v1/messages/count_tokens"
    ),
    "/v1/chat/completions": Route(
        "openai_chat", _POST, Access.METERED, "/v1/chat/completions", "openai_chat"
    ),
    "/v1/responses": Route(
        "openai_responses", _POST, Access.METERED, "/v1/responses", "openai_responses"
    ),
    "/v1/models": Route("models", _GET, Access.CLIENT, "/v1/models"),
    "/v1/usage": Route("usage", _GET, Access.ADMIN, "/v1/usage"),
    "/openapi.json": Route("openapi", _GET, Access.PUBLIC, OTHER),
    "/": _ROOT,
    "": _ROOT,
    "/metrics": Route("metrics", _READ, Access.INTERNAL, OTHER),
    **{path: _PROBE for path in probes.PATHS},
}
_MODEL_PREFIX = "/v1/models/"
_MODEL = Route("models", _GET, Access.CLIENT, "/v1/models/{id}")
# Gemini names the model in the path and the method after it: /v1beta/models/{model}:method.
# google-genai 3 calls the same methods under /v1/models/, which GET /v1/models/{id} shares.
GEMINI_PREFIXES = ("/v1beta/models/", "/v1/models/")
_GEMINI_METHODS: tuple[tuple[str, EndpointName, Access], ...] = (
    ("generateContent", "gemini", Access.METERED),
    ("streamGenerateContent", "gemini", Access.METERED),
    ("countTokens", "gemini_count_tokens", Access.CLIENT),
)
_GEMINI: dict[tuple[str, str], Route] = {
    (prefix, method): Route(endpoint, _POST, access, f"{prefix}{{model}}:{method}", "gemini")
    for prefix in GEMINI_PREFIXES
    for method, endpoint, access in _GEMINI_METHODS
}


def find(path: str) -> Route | None:
    """The route serving `path`, or None when no route does."""
    route = _EXACT.get(path)
    if route is None:
        if (gemini := _gemini_route(path)) is not None:
            return gemini
        if path.startswith(_MODEL_PREFIX):
            return _MODEL
    return route


def _gemini_route(path: str) -> Route | None:
    prefix = _gemini_prefix(path)
    return None if prefix is None else _GEMINI.get((prefix, path.rpartition(":")[2]))


def _gemini_prefix(path: str) -> str | None:
    return next((prefix for prefix in GEMINI_PREFIXES if path.startswith(prefix)), None)


def gemini_call(path: str) -> tuple[str, str]:
    """The model and the method a Gemini route's path names: ("gemini-2.5-pro",
    "generateContent"); the model is "" when the path names none."""
    prefix = _gemini_prefix(path) or ""
    model, _, method = path[len(prefix) :].rpartition(":")
    return model, method


_KEYED = (Access.CLIENT, Access.METERED, Access.ADMIN)


def needs_key(route: Route | None) -> bool:
    """Whether a request must present a key (one to an unknown path must)."""
    return route is None or route.access in _KEYED


def route_label(path: str) -> str:
    """The metric label of `path`: scanners probing random paths add no series."""
    route = find(path)
    return OTHER if route is None else route.label


def check_method(route: Route, method: str, path: str) -> None:
    if route.methods and method not in route.methods:
        raise InvalidRequest(f"{path} accepts {route.methods[0]}, not {method}", status=405)
