"""The Lambda handler with real event payloads, Secrets Manager under moto, a stub Gemini."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest
from ai_proxy.config import ConfigError, load_config
from ai_proxy.secrets.aws import AwsSecretSource
from ai_proxy_aws_lambda.handler import LambdaHandler
from botocore.stub import Stubber
from moto import mock_aws

from .lambda_support import EVENT_FILES, LambdaContext, load_event, response_body, response_header
from .upstream import AUTH_ENV, TEXT_CHUNKS, GeminiStub, full_text, messages_body

SECRET_ID = "ai-proxy/api-keys"
GEMINI_KEY = "AIza-test-key-from-secrets-manager"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def secret(aws: Any) -> Any:
    aws.create_secret(Name=SECRET_ID, SecretString=json.dumps({"gemini": GEMINI_KEY}))
    return aws


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API operation made through botocore, in order."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


class RefreshFailures:
    """An observer recording secret refresh failures only."""

    def __init__(self, into: list[str]) -> None:
        self.into = into

    def request_started(self, record: Any) -> None:
        pass

    def stream_started(self, record: Any) -> None:
        pass

    def request_finished(self, record: Any) -> None:
        pass

    def secret_refresh_failed(self, source: str) -> None:
        self.into.append(source)

    def limit_store_failed(self, store: str) -> None:
        pass


def make_handler(gemini: GeminiStub, **settings: str) -> LambdaHandler:
    environ = {
        **AUTH_ENV,
        "AI_PROXY_SECRETS__SOURCE": "aws",
        "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
        **{f"AI_PROXY_{name.upper()}": value for name, value in settings.items()},
    }
    return LambdaHandler(load_config(environ=environ))


@pytest.fixture
def handler(secret: Any, gemini: GeminiStub) -> Iterator[LambdaHandler]:
    handler = make_handler(gemini)
    yield handler
    handler.close()


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_streaming_request_returns_the_complete_sse_body(
    event_file: str, handler: LambdaHandler, gemini: GeminiStub
) -> None:
    response = handler(load_event(event_file), LambdaContext())

    assert response["statusCode"] == 200
    assert response_header(response, "content-type") == "text/event-stream; charset=utf-8"
    body = response_body(response)
    assert body.startswith(b"event: message_start\n")
    assert body.rstrip().endswith(b'data: {"type":"message_stop"}')
    assert full_text(body) == "".join(TEXT_CHUNKS)
    assert gemini.keys_seen == [GEMINI_KEY]


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_json_request_and_base64_bodies(event_file: str, handler: LambdaHandler) -> None:
    event = load_event(event_file, body=messages_body(stream=False))

    response = handler(event, LambdaContext())

    assert response["statusCode"] == 200, response_body(response)
    message = json.loads(response_body(response))
    assert message["type"] == "message"
    assert message["content"] == [{"type": "text", "text": "".join(TEXT_CHUNKS)}]


def test_head_probe_answers_without_upstream(handler: LambdaHandler, gemini: GeminiStub) -> None:
    event = load_event("apigw_v2_http.json", body=b"", method="HEAD")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/"

    response = handler(event, LambdaContext())

    assert response["statusCode"] == 200
    assert response_body(response) == b""
    assert gemini.keys_seen == []


def test_secret_is_read_once_across_invocations(
    secret: Any, gemini: GeminiStub, api_calls: list[str]
) -> None:
    handler = make_handler(gemini)
    try:
        for index in range(10):
            body = messages_body(stream=index % 2 == 0)
            response = handler(load_event(EVENT_FILES[index % 4], body=body), LambdaContext())
            assert response["statusCode"] == 200
    finally:
        handler.close()

    assert api_calls.count("GetSecretValue") == 1
    assert gemini.keys_seen == [GEMINI_KEY] * 10


def test_rotated_secret_is_picked_up_after_the_ttl(
    secret: Any, gemini: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = make_handler(gemini)
    clock = [1000.0]
    monkeypatch.setattr(handler.gateway.secrets, "_clock", lambda: clock[0])
    handler.gateway.secrets._next_refresh = clock[0] + 300
    try:
        secret.put_secret_value(SecretId=SECRET_ID, SecretString='{"gemini": "rotated-key"}')
        handler(load_event("alb.json"), LambdaContext())
        clock[0] += 301
        handler(load_event("alb.json"), LambdaContext())
    finally:
        handler.close()

    assert gemini.keys_seen == [GEMINI_KEY, "rotated-key"]


def test_failed_refresh_keeps_the_last_good_key_and_logs_no_key(
    secret: Any, gemini: GeminiStub, caplog: pytest.LogCaptureFixture
) -> None:
    handler = make_handler(gemini, secrets__refresh_seconds="0.000001")
    failures: list[str] = []
    handler.gateway.observers.append(RefreshFailures(failures))
    try:
        secret.delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
        with caplog.at_level(logging.WARNING, logger="ai_proxy.secrets"):
            response = handler(load_event("apigw_v2_http.json"), LambdaContext())
    finally:
        handler.close()

    assert response["statusCode"] == 200
    assert gemini.keys_seen == [GEMINI_KEY]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "could not refresh" in warnings[0] and SECRET_ID in warnings[0]
    assert GEMINI_KEY not in caplog.text
    assert failures == ["aws"]  # metrics see it too (EMF / Prometheus observers)


def test_missing_secret_fails_start_up_naming_it(aws: Any, gemini: GeminiStub) -> None:
    with pytest.raises(ConfigError, match=f"secret '{SECRET_ID}' does not exist"):
        make_handler(gemini)


@pytest.mark.parametrize(
    ("secret_string", "problem"),
    [
        ("AIza-not-json-at-all", "is not valid JSON"),
        ('["AIza-in-a-list"]', "must be a JSON object"),
        ('{"gemeni": "AIza-misspelt"}', "unknown 'gemeni'"),
        ('{"AIza-pasted-as-a-name-0123456789abcdef": "gemini"}', "unknown key"),
        ('{"gemini": 12345}', "value of 'gemini' must be a string"),
        ('{"gemini": ""}', "holds no API key"),
    ],
)
def test_malformed_secret_fails_start_up_without_the_value(
    aws: Any, gemini: GeminiStub, secret_string: str, problem: str
) -> None:
    aws.create_secret(Name=SECRET_ID, SecretString=secret_string)

    with pytest.raises(ConfigError) as caught:
        make_handler(gemini)

    message = str(caught.value)
    assert f"secret '{SECRET_ID}'" in message
    assert problem in message
    assert "AIza" not in message and "12345" not in message


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("AccessDeniedException", "access denied reading AWS Secrets Manager secret"),
        ("DecryptionFailure", "needs kms:Decrypt"),
        ("InternalServiceError", "cannot read AWS Secrets Manager secret"),
    ],
)
def test_unreadable_secret_is_a_clear_config_error(aws: Any, code: str, problem: str) -> None:
    source = AwsSecretSource(load_config(environ={"AI_PROXY_SECRETS__SOURCE": "aws"}).secrets)
    with Stubber(source._secretsmanager()) as stubber:
        stubber.add_client_error("get_secret_value", service_error_code=code, http_status_code=400)
        with pytest.raises(ConfigError, match=problem) as caught:
            source.load()
    assert SECRET_ID in str(caught.value)


def test_request_ids_reach_the_response_and_log_records(
    handler: LambdaHandler, caplog: pytest.LogCaptureFixture
) -> None:
    context = LambdaContext()
    event = load_event("apigw_v1_rest.json", body=b"", method="HEAD")
    event["path"] = "/"

    with caplog.at_level(logging.INFO, logger="mangum.http"):
        response = handler(event, context)

    assert response_header(response, "request-id") == context.aws_request_id
    record = next(r for r in caplog.records if r.name == "mangum.http")
    assert record.aws_request_id == context.aws_request_id  # type: ignore[attr-defined]
    assert record.apigw_request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # type: ignore[attr-defined]


def test_client_request_id_is_kept(handler: LambdaHandler) -> None:
    event = load_event("apigw_v2_http.json", body=b"", method="HEAD")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/"
    event["headers"]["x-request-id"] = "client-chosen-id"

    response = handler(event, LambdaContext())

    assert response_header(response, "request-id") == "client-chosen-id"
