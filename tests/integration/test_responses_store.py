"""previous_response_id with the fleet store: the openai SDK through the gateway, a real
redis-server keeping the responses, a fake Anthropic showing what each continuation sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
import redis
from ai_proxy.auth import hash_key

from tests.fakes.anthropic import FakeAnthropic, sign, text_reply, thinking_reply
from tests.fakes.redis_server import RedisServer
from tests.gateway_server import make_config, serve_gateway

CI_KEY = "aip_responses-store-ci-key"
LAPTOP_KEY = "aip_responses-store-laptop-key"
TTL_SECONDS = 3600
MODEL = "claude-sonnet-4-5"


class Fleet:
    def __init__(self, anthropic: FakeAnthropic, redis_server: RedisServer, url: str) -> None:
        self.anthropic, self.redis_server, self.url = anthropic, redis_server, url


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with (
        RedisServer(tmp_path_factory.mktemp("redis")) as redis_server,
        FakeAnthropic(client_keys={CI_KEY, LAPTOP_KEY}) as anthropic,
    ):
        config = make_config(
            {"anthropic": anthropic.base_url},
            keys={"anthropic": anthropic.api_key},
            auth={
                "client_keys": [
                    {"name": "ci", "sha256": hash_key(CI_KEY)},
                    {"name": "laptop", "sha256": hash_key(LAPTOP_KEY)},
                ]
            },
            # Generous next to 50 ms in production: a loaded CI machine must not turn it red.
            limits={"store": "redis", "redis_url": redis_server.url, "store_timeout_ms": 2000},
            responses={"store_ttl_seconds": TTL_SECONDS},
        )
        with serve_gateway(config) as url:
            yield Fleet(anthropic, redis_server, url)


@pytest.fixture
def anthropic(fleet: Fleet) -> FakeAnthropic:
    fleet.anthropic.reset()
    return fleet.anthropic


def sdk(fleet: Fleet, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=fleet.url + "/v1", api_key=key, max_retries=0)


@pytest.fixture
def ci(fleet: Fleet) -> Iterator[openai.OpenAI]:
    with sdk(fleet, CI_KEY) as client:
        yield client


def sent_messages(anthropic: FakeAnthropic) -> list[dict[str, Any]]:
    """The messages of the last request upstream."""
    messages: list[dict[str, Any]] = anthropic.requests[-1].json["messages"]
    return messages


def test_a_continuation_reaches_upstream_with_the_whole_history(
    ci: openai.OpenAI, anthropic: FakeAnthropic, fleet: Fleet
) -> None:
    anthropic.enqueue(
        thinking_reply("A dragon, then.", "Once upon a time."),
        text_reply("A dragon came."),
        text_reply("The end."),
    )
    first = ci.responses.create(model=MODEL, instructions="Be brief.", input="Tell me a story")
    assert anthropic.requests[-1].json["system"] == "Be brief."
    second = ci.responses.create(model=MODEL, previous_response_id=first.id, input="and then?")
    assert second.output_text == "A dragon came." and second.previous_response_id == first.id
    sent = anthropic.requests[-1].json
    assert "system" not in sent  # OpenAI carries no instructions over, nor do we
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Tell me a story"}]},
        {
            "role": "assistant",  # the answer as upstream gave it, its thinking still signed
            "content": [
                {
                    "type": "thinking",
                    "thinking": "A dragon, then.",
                    "signature": sign("A dragon, then."),
                },
                {"type": "text", "text": "Once upon a time."},
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "and then?"}]},
    ]
    # Each kept response holds its whole conversation: the third turn reads only the second.
    third = ci.responses.create(model=MODEL, previous_response_id=second.id, input="and?")
    assert third.output_text == "The end."
    roles = [message["role"] for message in sent_messages(anthropic)]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    with redis.Redis.from_url(fleet.redis_server.url) as client:
        assert 0 < client.ttl(f"ai-proxy:responses:{first.id}") <= TTL_SECONDS


def test_a_streamed_response_is_kept_before_its_stream_ends(
    ci: openai.OpenAI, anthropic: FakeAnthropic
) -> None:
    anthropic.enqueue(text_reply("Streamed hello."), text_reply("Still here."))
    with ci.responses.stream(model=MODEL, input="Hi") as stream:
        first = stream.get_final_response()
    second = ci.responses.create(model=MODEL, previous_response_id=first.id, input="Again?")
    assert second.output_text == "Still here."
    assert sent_messages(anthropic)[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Streamed hello."}],
    }


def expect_not_found(client: openai.OpenAI, response_id: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=MODEL, previous_response_id=response_id, input="more")
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"
    assert f"previous response '{response_id}' not found or expired" in refused.value.message


def test_store_false_keeps_nothing(ci: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    first = ci.responses.create(model=MODEL, input="Hi", store=False)
    expect_not_found(ci, first.id)
    assert len(anthropic.requests) == 1  # the refusal never reached upstream


def test_another_client_key_cannot_continue_it(
    ci: openai.OpenAI, anthropic: FakeAnthropic, fleet: Fleet
) -> None:
    first = ci.responses.create(model=MODEL, input="Hi")
    with sdk(fleet, LAPTOP_KEY) as laptop:
        expect_not_found(laptop, first.id)  # the same words as an id never kept
    expect_not_found(ci, "resp_never_kept")
    ci.responses.create(model=MODEL, previous_response_id=first.id, input="Still mine")


def test_a_request_id_sent_twice_never_shares_a_kept_response(
    ci: openai.OpenAI, anthropic: FakeAnthropic
) -> None:
    anthropic.enqueue(text_reply("One."), text_reply("Two."), text_reply("After one."))
    same = {"x-request-id": "client-chosen-id"}
    one = ci.responses.create(model=MODEL, input="First", extra_headers=same)
    two = ci.responses.create(model=MODEL, input="Second", extra_headers=same)
    assert one.id != two.id
    ci.responses.create(model=MODEL, previous_response_id=one.id, input="Go on")
    assert sent_messages(anthropic)[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "One."}],
    }
