"""Client authentication: who gets in, how keys are configured, what never leaves."""

from __future__ import annotations

import io
import logging

import anthropic
import httpx
import orjson
import pytest
from ai_proxy.auth import MAX_KEY_LENGTH, ClientAuth, ClientKey, hash_key, new_key
from ai_proxy.config import EMPTY_SHA256, AuthConfig, ConfigError, load_config
from ai_proxy.errors import AuthenticationFailed
from ai_proxy.gateway import Gateway
from ai_proxy.hash_key import main as hash_key_main

from tests.fakes.gemini import FakeGemini

from .conftest import CLIENT_KEY, OTHER_KEY, body, client_for, config_for, keyed

AUTH = ClientAuth(False, [ClientKey("ci", hash_key(CLIENT_KEY)), ClientKey("b", hash_key("k2"))])


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": CLIENT_KEY},
        {"authorization": f"Bearer {CLIENT_KEY}"},
        {"authorization": f"bearer   {CLIENT_KEY}"},
        # A client may send both (Claude Code with API key and auth token set).
        {"x-api-key": "unused", "authorization": f"Bearer {CLIENT_KEY}"},
        {"x-api-key": CLIENT_KEY, "authorization": "Bearer unused"},
        {"x-api-key": f"  {CLIENT_KEY}  "},  # surrounding whitespace is not part of a key
    ],
)
def test_a_configured_key_is_accepted_from_either_header(headers: dict[str, str]) -> None:
    assert AUTH.authenticate(headers).name == "ci"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"x-goog-api-key": CLIENT_KEY}, ""),
        ({}, f"alt=sse&key={CLIENT_KEY}"),
        ({"x-goog-api-key": "unused"}, f"key={CLIENT_KEY}"),
        ({"authorization": f"Bearer {CLIENT_KEY}"}, ""),
    ],
)
def test_gemini_routes_take_google_conventions(headers: dict[str, str], query: str) -> None:
    """x-goog-api-key or ?key= (google-genai, gemini-cli): the same client keys."""
    assert AUTH.authenticate(headers, query).name == "ci"


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        ({}, "key=" + CLIENT_KEY[:-1], "invalid client key"),
        ({"x-goog-api-key": CLIENT_KEY + "x"}, "", "invalid client key"),
        ({}, "alt=sse", "missing client key: send it as the x-goog-api-key header"),
        ({}, "key=", "missing client key"),
    ],
)
def test_gemini_route_refusals(headers: dict[str, str], query: str, message: str) -> None:
    with pytest.raises(AuthenticationFailed, match=message):
        AUTH.authenticate(headers, query)


def test_google_conventions_are_no_key_elsewhere() -> None:
    """Off Gemini's routes a key in a URL is none (URLs end up in logs), nor is x-goog-api-key."""
    with pytest.raises(AuthenticationFailed, match="missing client key"):
        AUTH.authenticate({"x-goog-api-key": CLIENT_KEY})


def test_a_key_in_a_gemini_url_works_and_is_never_logged(
    gemini: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    request = {"contents": [{"parts": [{"text": "Hello"}]}]}
    with caplog.at_level(logging.DEBUG), client_for(config_for(gemini.base_url, auth=keyed())) as c:
        answered = c.post(path, params={"key": CLIENT_KEY}, json=request)
        refused = c.post(path, params={"key": "wrong"}, json=request)
        elsewhere = c.post("/v1/messages", params={"key": CLIENT_KEY}, json=body())
    assert answered.status_code == 200, answered.text
    assert answered.json()["candidates"][0]["content"]["parts"]
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"]["type"] == "authentication_error"
    # The gateway's logs (and the server's), not the test's own HTTP client's.
    ours = [r for r in caplog.records if r.name.startswith(("ai_proxy", "uvicorn"))]
    assert ours and not [r for r in ours if CLIENT_KEY in r.getMessage() + str(r.__dict__)]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing client key"),
        ({"x-api-key": ""}, "missing client key"),
        ({"authorization": ""}, "missing client key"),
        ({"x-api-key": "   "}, "invalid client key"),
        ({"authorization": "Bearer "}, "invalid client key"),
        ({"authorization": "Bearer"}, "invalid client key"),
        ({"x-api-key": CLIENT_KEY + "x"}, "invalid client key"),
        ({"x-api-key": CLIENT_KEY[:-1]}, "invalid client key"),
        ({"x-api-key": CLIENT_KEY.upper()}, "invalid client key"),
        ({"x-api-key": hash_key(CLIENT_KEY)}, "invalid client key"),  # the hash is not the key
        ({"authorization": f"Basic {CLIENT_KEY}"}, "invalid client key"),
        ({"authorization": f"Token {CLIENT_KEY}"}, "invalid client key"),
        ({"authorization": CLIENT_KEY}, "invalid client key"),
        ({"x-api-key": "x" * (MAX_KEY_LENGTH + 1)}, "invalid client key"),
        ({"x-api-key": "a" * 100_000}, "invalid client key"),
        ({"api-key": CLIENT_KEY, "x-goog-api-key": CLIENT_KEY}, "missing client key"),
    ],
)
def test_bypass_attempts_are_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        AUTH.authenticate(headers)
    assert caught.value.status == 401
    assert message in caught.value.message
    assert CLIENT_KEY not in caught.value.message


def test_disabled_auth_lets_everyone_in_as_anonymous() -> None:
    assert ClientAuth(True, []).authenticate({}).name == "anonymous"


def test_keys_can_be_replaced_at_runtime() -> None:
    auth = ClientAuth(False, [ClientKey("old", hash_key("old-key"))])
    auth.set_keys([ClientKey("new", hash_key("new-key"))])
    assert auth.authenticate({"x-api-key": "new-key"}).name == "new"
    with pytest.raises(AuthenticationFailed):
        auth.authenticate({"x-api-key": "old-key"})


def test_new_keys_are_long_random_and_recognisable() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(key.startswith("aip_") and len(key) >= 40 for key in keys)


def test_keys_come_from_the_environment_as_json() -> None:
    digest = hash_key(CLIENT_KEY)
    config = load_config(
        None,
        environ={"AI_PROXY_AUTH__CLIENT_KEYS": f'[{{"name":"ci","sha256":"{digest.upper()}"}}]'},
    )
    assert config.auth.client_keys[0].name == "ci"
    assert config.auth.client_keys[0].sha256 == digest  # normalised to lower case
    assert digest not in repr(config)  # hashes stay out of reprs (and so of tracebacks)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([{"name": "ci", "sha256": "abc"}], "64 hex digits"),
        ([{"name": "ci", "sha256": "z" * 64}], "64 hex digits"),
        ([{"name": "ci", "sha256": EMPTY_SHA256}], "empty key"),
        ([{"name": "has space", "sha256": "a" * 64}], "client_keys.0.name"),
        ([{"name": "a", "sha256": "a" * 64}, {"name": "a", "sha256": "b" * 64}], "unique"),
        ([{"name": "a", "sha256": "a" * 64}, {"name": "b", "sha256": "a" * 64}], "twice"),
    ],
)
def test_bad_key_entries_stop_start_up(keys: list[dict[str, str]], problem: str) -> None:
    environ = {"AI_PROXY_AUTH__CLIENT_KEYS": orjson.dumps(keys).decode()}
    with pytest.raises(ConfigError, match=problem):
        load_config(None, environ=environ)


def test_no_keys_and_not_disabled_stops_start_up_with_instructions() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(load_config(None, environ={}))
    message = str(caught.value)
    assert "ai-proxy hash-key" in message
    assert "AI_PROXY_AUTH__CLIENT_KEYS" in message
    assert "auth.disabled = true" in message


def test_disabled_auth_logs_a_warning_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ai_proxy.gateway"):
        Gateway(load_config(None, environ={"AI_PROXY_AUTH__DISABLED": "true"}))
    assert any("authentication is disabled" in r.getMessage() for r in caplog.records)


def test_hash_key_generates_a_key_and_the_entry_that_admits_it() -> None:
    out = io.StringIO()
    assert hash_key_main(["--name", "laptop"], stdout=out) == 0
    lines = out.getvalue().splitlines()
    key = next(line for line in lines if line.startswith("aip_"))
    env = next(line for line in lines if line.startswith("AI_PROXY_AUTH__CLIENT_KEYS="))
    config = load_config(None, environ={"AI_PROXY_AUTH__CLIENT_KEYS": env.split("=", 1)[1][1:-1]})
    auth = ClientAuth.from_config(config.auth)
    assert auth.authenticate({"x-api-key": key}).name == "laptop"
    assert f'sha256 = "{hash_key(key)}"' in lines


def test_hash_key_reads_a_key_from_stdin_without_echoing_it() -> None:
    out = io.StringIO()
    assert (
        hash_key_main(["--stdin", "--name", "ci"], stdin=io.StringIO(CLIENT_KEY + "\n"), stdout=out)
        == 0
    )
    assert CLIENT_KEY not in out.getvalue()
    assert hash_key(CLIENT_KEY) in out.getvalue()
    assert hash_key_main(["--stdin"], stdin=io.StringIO("short\n"), stdout=io.StringIO()) == 2


def test_auth_section_defaults_to_enabled_with_no_keys() -> None:
    assert AuthConfig() == AuthConfig(disabled=False, client_keys=[])


# --- through the real app ---------------------------------------------------------------


def test_v1_needs_a_key_and_probes_do_not(gemini: FakeGemini) -> None:
    with client_for(config_for(gemini.base_url, auth=keyed())) as client:
        refused = client.post("/v1/messages", json=body())
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        assert client.post("/v1/messages/count_tokens", json=body()).status_code == 401
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/unknown").status_code == 401  # every non-public path
        assert client.head("/v1/messages").status_code == 401
        for path in ("/health/live", "/health/ready", "/metrics", "/openapi.json", "/"):
            assert client.get(path).status_code == 200, path
        assert client.head("/").status_code == 200
        assert gemini.requests == []
        ok = client.post("/v1/messages", json=body(), headers={"x-api-key": CLIENT_KEY})
        assert ok.status_code == 200
        bearer = client.post(
            "/v1/messages", json=body(), headers={"authorization": f"Bearer {OTHER_KEY}"}
        )
        assert bearer.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/v1/messages?x-api-key={CLIENT_KEY}", {}),
        (f"/v1/messages?api_key={CLIENT_KEY}&key={CLIENT_KEY}", {}),
        ("/v1/messages", {"x-api-key": ""}),
        ("/v1/messages", {"authorization": f"Basic {CLIENT_KEY}"}),
        ("/v1/messages", {"x-api-key": "k" * 8000}),
        ("/v1/messages", {"cookie": f"x-api-key={CLIENT_KEY}"}),
        ("/v1/messages/", {}),
        ("//v1/messages", {}),
        ("/v1/../v1/messages", {}),
        ("/V1/MESSAGES", {}),
    ],
)
def test_bypass_attempts_over_http_are_refused(
    gemini: FakeGemini, path: str, headers: dict[str, str]
) -> None:
    with client_for(config_for(gemini.base_url, auth=keyed())) as client:
        response = client.post(path, content=orjson.dumps(body()), headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"
    assert CLIENT_KEY not in response.text
    assert gemini.requests == []


def test_a_stranger_is_refused_before_the_body_is_read(gemini: FakeGemini) -> None:
    """401, not 413: without a key nobody can make the gateway buffer a large body."""
    config = config_for(gemini.base_url, auth=keyed(), server={"max_body_bytes": 4096})
    with client_for(config) as client:
        response = client.post("/v1/messages", content=b"x" * 100_000)
        assert response.status_code == 401
        keyed_response = client.post(
            "/v1/messages", content=b"x" * 100_000, headers={"x-api-key": CLIENT_KEY}
        )
        assert keyed_response.status_code == 413


def test_the_anthropic_sdk_authenticates_with_its_api_key(gemini: FakeGemini) -> None:
    with client_for(config_for(gemini.base_url, auth=keyed())) as client:
        base_url = str(client.base_url)
        sdk = anthropic.Anthropic(base_url=base_url, api_key=CLIENT_KEY, max_retries=0)
        message = sdk.messages.create(**body())
        assert message.content
        wrong = anthropic.Anthropic(base_url=base_url, api_key="wrong", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(**body())
        token = anthropic.Anthropic(base_url=base_url, auth_token=CLIENT_KEY, max_retries=0)
        assert token.messages.create(**body()).content


def test_only_allow_listed_headers_go_upstream(gemini: FakeGemini) -> None:
    with client_for(config_for(gemini.base_url, auth=keyed())) as client:
        response = client.post(
            "/v1/messages",
            json=body(),
            headers={
                "x-api-key": CLIENT_KEY,
                "authorization": f"Bearer {CLIENT_KEY}",
                "cookie": "session=secret-cookie",
                "anthropic-version": "2023-06-01",
                "x-forwarded-for": "10.1.2.3",
                "x-custom": "custom-value",
            },
        )
    assert response.status_code == 200
    [sent] = gemini.requests
    everything = repr(sent.headers) + repr(sent.query) + sent.path + sent.body.decode()
    for leaked in (CLIENT_KEY, "secret-cookie", "10.1.2.3", "custom-value"):
        assert leaked not in everything
    assert sent.headers["x-goog-api-key"] == "test-gemini-key"
    assert "authorization" not in sent.headers and "x-api-key" not in sent.headers


def test_the_client_key_name_is_recorded_for_logs_and_metrics(gemini: FakeGemini) -> None:
    from ai_proxy.http.app import create_app

    config = config_for(gemini.base_url, auth=keyed())
    app = create_app(config)
    seen: list[str | None] = []

    class Spy:
        def request_started(self, record: object) -> None: ...
        def stream_started(self, record: object) -> None: ...
        def secret_refresh_failed(self, source: str) -> None: ...
        def limit_store_failed(self, store: str) -> None: ...
        def request_finished(self, record: object) -> None:
            seen.append(getattr(record, "client_name", None))

    app.gateway.observers.append(Spy())
    transport = httpx.ASGITransport(app=app)

    async def call() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            await client.post("/v1/messages", json=body(), headers={"x-api-key": OTHER_KEY})
            await client.post("/v1/messages", json=body(), headers={"x-api-key": "nope"})
        await app.gateway.close()

    import asyncio

    asyncio.run(call())
    assert seen == ["other", None]
