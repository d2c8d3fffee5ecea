"""The anthropic SDK (and raw HTTP) -> our gateway -> the fake Bedrock, over real HTTP.

Every request is SigV4-signed by the gateway with botocore and verified by the fake with its
own signer (tests.fakes.sigv4); the credentials come from the environment or from a fake
container credentials endpoint, as on ECS and Lambda.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest
from ai_proxy.config import Config
from ai_proxy.identity.aws import AwsIdentity
from ai_proxy.providers.base import UpstreamRequest

from tests.fakes.anthropic import text_reply, thinking_reply
from tests.fakes.bedrock import (
    REGION,
    TEST_CREDENTIALS,
    FakeBedrock,
    FakeContainerCredentials,
    Streamed,
    StreamException,
    isolate_aws_env,
)
from tests.gateway_server import serve_gateway
from tests.sse_grammar import check_stream, parse_frames

PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
FOUNDATION = "anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL = "house-claude"  # an alias of bedrock/PROFILE, as a deployment would name it
USER: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Say hello"}]
BEDROCK_KEY = "ABSKfake-bedrock-api-key"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    isolate_aws_env(monkeypatch, tmp_path)
    return monkeypatch


@pytest.fixture
def env_credentials(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    aws_env.setenv("AWS_REGION", REGION)


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    with FakeBedrock(api_keys={BEDROCK_KEY}) as bedrock:
        yield bedrock


def config(fake: FakeBedrock, **bedrock: Any) -> Config:
    table = {"enabled": True, "base_url": fake.base_url, **bedrock}
    return Config.model_validate(
        {
            "providers": {"bedrock": table},
            "auth": {"disabled": True},
            "retries": {"max_retries": 0},
            "routing": {"aliases": {MODEL: f"bedrock/{PROFILE}"}},
        }
    )


@pytest.fixture
def gateway(fake: FakeBedrock, env_credentials: None) -> Iterator[str]:
    with serve_gateway(config(fake)) as url:
        yield url


def sdk(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)


def raw_stream(url: str, **extra: Any) -> bytes:
    body = {"model": MODEL, "max_tokens": 64, "messages": USER, "stream": True, **extra}
    response = httpx.post(f"{url}/v1/messages", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.content


def test_invoke_model_signed_with_env_credentials(fake: FakeBedrock, gateway: str) -> None:
    fake.enqueue(text_reply("Hello from Bedrock"))
    with sdk(gateway) as client:
        message = client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert message.content[0].type == "text" and message.content[0].text == "Hello from Bedrock"
    assert message.model == MODEL
    (sent,) = fake.requests
    assert fake.refusals == []
    assert sent.operation == "InvokeModel" and sent.model_id == PROFILE
    # The id's `:` is quoted in the path, and signed as Bedrock recomputes it.
    assert sent.raw_path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent.json and "stream" not in sent.json
    assert sent.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={TEST_CREDENTIALS.access_key}/"
    )


def test_stream_is_relayed_as_anthropic_sse(fake: FakeBedrock, gateway: str) -> None:
    fake.enqueue(thinking_reply("Let me think.", "Hello there"))
    raw = raw_stream(gateway, thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048)
    events = check_stream(raw)
    assert events[0]["message"]["model"] == MODEL
    assert events[-1] == {"type": "message_stop"}
    assert b"amazon-bedrock-invocationMetrics" not in raw
    (sent,) = fake.requests
    assert sent.operation == "InvokeModelWithResponseStream"
    assert fake.refusals == []
    with sdk(gateway) as client:
        fake.enqueue(text_reply("Streamed through the SDK"))
        with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as stream:
            final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Streamed through the SDK"
    assert final.usage.input_tokens == 21 and final.usage.output_tokens == 9


def test_messages_split_across_reads_at_odd_offsets(fake: FakeBedrock, gateway: str) -> None:
    offsets = (1, 5, 11, 12, 13, 90, 91, 250, 333, 334, 600)
    fake.enqueue(Streamed(text_reply("Split into many pieces"), split_at=offsets))
    events = check_stream(raw_stream(gateway))
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Split into many pieces"


def test_mid_stream_exception_comes_after_the_content(fake: FakeBedrock, gateway: str) -> None:
    exception = StreamException("modelStreamErrorException", "The model stream failed.")
    fake.enqueue(
        Streamed(text_reply("Partial answer"), exception=exception, exception_after_events=4)
    )
    frames = parse_frames(raw_stream(gateway))
    kinds = [kind for kind, _ in frames]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert "content_block_delta" in kinds
    assert kinds[-1] == "error" and kinds.count("error") == 1
    error = frames[-1][1]["error"]
    assert error["type"] == "api_error"
    assert "The model stream failed." in error["message"]


def test_throttling_exception_mid_stream_is_a_rate_limit_event(
    fake: FakeBedrock, gateway: str
) -> None:
    exception = StreamException("throttlingException", "Too many tokens, please wait.")
    fake.enqueue(Streamed(text_reply("Hi"), exception=exception, exception_after_events=2))
    kind, payload = parse_frames(raw_stream(gateway))[-1]
    assert (kind, payload["error"]["type"]) == ("error", "rate_limit_error")


def test_access_denied_names_the_action_and_the_resource(fake: FakeBedrock, gateway: str) -> None:
    fake.deny(PROFILE)
    with sdk(gateway) as client, pytest.raises(anthropic.PermissionDeniedError) as denied:
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    message = denied.value.body["error"]["message"]  # type: ignore[index]
    assert denied.value.status_code == 403
    assert "bedrock:InvokeModel " in message
    assert f"arn:aws:bedrock:{REGION}:123456789012:inference-profile/{PROFILE}" in message
    body = {"model": MODEL, "max_tokens": 64, "messages": USER, "stream": True}
    streamed = httpx.post(f"{gateway}/v1/messages", json=body, timeout=10)
    assert streamed.status_code == 403
    assert "bedrock:InvokeModelWithResponseStream" in streamed.json()["error"]["message"]


def test_betas_go_in_the_body(fake: FakeBedrock, gateway: str) -> None:
    fake.enqueue(text_reply("ok"))
    with sdk(gateway) as client:
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=USER,
            extra_headers={
                "anthropic-beta": "context-1m-2025-08-07, interleaved-thinking-2025-05-14"
            },
        )
    (sent,) = fake.requests
    assert sent.json["anthropic_beta"] == [
        "context-1m-2025-08-07",
        "interleaved-thinking-2025-05-14",
    ]
    assert "anthropic-beta" not in sent.headers
    assert fake.inner.requests[-1].headers["anthropic-beta"].startswith("context-1m")


def test_count_tokens_through_count_tokens_with_the_foundation_id(
    fake: FakeBedrock, gateway: str
) -> None:
    fake.inner.enqueue_count_tokens(42)
    with sdk(gateway) as client:
        counted = client.messages.count_tokens(model=MODEL, messages=USER)
    assert counted.input_tokens == 42
    (sent,) = fake.requests
    assert fake.refusals == []
    assert sent.operation == "CountTokens" and sent.model_id == FOUNDATION
    assert sent.json["messages"] == USER


def test_a_model_bedrock_cannot_count_is_counted_locally(fake: FakeBedrock, gateway: str) -> None:
    fake.cannot_count(FOUNDATION)
    with sdk(gateway) as client:
        counted = client.messages.count_tokens(model=MODEL, messages=USER)
    # Bedrock was asked and said no; the gateway's own count answers instead of an error.
    (sent,) = fake.requests
    assert sent.operation == "CountTokens" and sent.status == 400
    assert 0 < counted.input_tokens < 20


def test_a_wrong_secret_is_refused_and_mapped(
    fake: FakeBedrock, aws_env: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-secret-access-key-at-all"
    aws_env.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    with (
        serve_gateway(config(fake, region=REGION)) as url,
        sdk(url) as client,
        pytest.raises(anthropic.AuthenticationError) as refused,
    ):
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    message = refused.value.body["error"]["message"]  # type: ignore[index]
    assert "InvalidSignatureException" in message
    assert wrong not in message
    assert fake.refusals == [("InvalidSignatureException", fake.refusals[0][1])]


def test_unknown_access_key_is_refused_and_mapped(
    fake: FakeBedrock, aws_env: pytest.MonkeyPatch
) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    with (
        serve_gateway(config(fake, region=REGION)) as url,
        sdk(url) as client,
        pytest.raises(anthropic.AuthenticationError) as refused,
    ):
        client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert "UnrecognizedClientException" in refused.value.body["error"]["message"]  # type: ignore[index]


def test_container_credentials_sign_requests(
    fake: FakeBedrock, aws_env: pytest.MonkeyPatch
) -> None:
    with FakeContainerCredentials(fake) as container:
        aws_env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.uri)
        aws_env.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", container.TOKEN)
        with serve_gateway(config(fake, region=REGION)) as url, sdk(url) as client:
            fake.enqueue(text_reply("Signed by the task role"))
            message = client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert message.content[0].type == "text"
    (issued,) = container.issued
    (sent,) = fake.requests
    assert f"Credential={issued.access_key}/" in sent.headers["authorization"]
    assert sent.headers["x-amz-security-token"] == issued.token


def test_role_credentials_refresh_before_they_expire(
    fake: FakeBedrock, aws_env: pytest.MonkeyPatch
) -> None:
    # Five minutes left is inside botocore's mandatory refresh window: every fetch renews.
    with FakeContainerCredentials(fake, lifetime=timedelta(minutes=5)) as container:
        aws_env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.uri)
        aws_env.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", container.TOKEN)
        identity = AwsIdentity("bedrock", REGION)
        assert identity.load()
        first = _signed_post(fake, identity)
        assert identity.refresh()
        second = _signed_post(fake, identity)
    assert len(container.issued) >= 2
    assert first != second
    assert fake.refusals == []


def _signed_post(fake: FakeBedrock, identity: AwsIdentity) -> str:
    """Sign a CountTokens call with the identity and send it; the access key it used."""
    invoke = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": USER}
    body = {"input": {"invokeModel": {"body": base64.b64encode(orjson.dumps(invoke)).decode()}}}
    request = UpstreamRequest(
        f"{fake.base_url}/model/{FOUNDATION.replace(':', '%3A')}/count-tokens",
        {"content-type": "application/json"},
        orjson.dumps(body),
    )
    identity.authorize(request)
    response = httpx.post(request.url, content=request.body, headers=request.headers)
    assert response.status_code == 200, response.text
    assert response.json()["inputTokens"] > 0
    return request.headers["authorization"].split("Credential=")[1].split("/")[0]


def test_a_bedrock_api_key_is_sent_as_a_bearer_token(
    fake: FakeBedrock, aws_env: pytest.MonkeyPatch
) -> None:
    fake.enqueue(text_reply("Keyed"))
    with serve_gateway(config(fake, region=REGION, api_key=BEDROCK_KEY)) as url, sdk(url) as c:
        c.messages.create(model=MODEL, max_tokens=64, messages=USER)
    (sent,) = fake.requests
    assert sent.headers["authorization"] == f"Bearer {BEDROCK_KEY}"
    assert "x-amz-date" not in sent.headers


def test_no_region_is_named_on_the_request(fake: FakeBedrock, aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    table = {"enabled": True}
    settings = {"providers": {"bedrock": table}, "auth": {"disabled": True}}
    with serve_gateway(Config.model_validate(settings)) as url:
        body = {"model": f"bedrock/{PROFILE}", "max_tokens": 8, "messages": USER}
        response = httpx.post(f"{url}/v1/messages", json=body, timeout=10)
    assert response.status_code == 500
    assert "AWS_REGION" in response.json()["error"]["message"]
    assert fake.requests == []
