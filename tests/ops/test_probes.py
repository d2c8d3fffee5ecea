"""Probe answers in each state, and SIGTERM turning readiness off before the server stops."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

import httpx
import orjson
import pytest
from ai_proxy.config import Config
from ai_proxy.gateway import CoreRequest, CoreResponse, Gateway
from ai_proxy.http.asgi import GatewayApp
from ai_proxy.shutdown import DrainOnSigterm

from .conftest import ops_config, serve

OPEN = {"auth": {"disabled": True}}


def get(gateway: Gateway, path: str, method: str = "GET") -> tuple[int, dict[str, object]]:
    response = asyncio.run(gateway.handle(CoreRequest(method, path, {})))
    assert isinstance(response.body, bytes)
    return response.status, orjson.loads(response.body)


def keyed_gateway() -> Gateway:
    return Gateway(ops_config("http://127.0.0.1:9", "test-gemini-key"))


def test_ready_instance_answers_ok_everywhere() -> None:
    gateway = keyed_gateway()
    for path in ("/health/live", "/health/startup", "/health/ready"):
        status, body = get(gateway, path)
        assert status == 200, path
        assert body["status"] == "ok"
    assert get(gateway, "/health/ready")[1] == {"status": "ok", "providers": ["gemini"]}


def test_before_secrets_are_loaded_startup_and_ready_fail() -> None:
    gateway = keyed_gateway()
    gateway.secrets_loaded = False
    assert get(gateway, "/health/live")[0] == 200
    assert get(gateway, "/health/startup") == (
        503,
        {"status": "starting", "reason": "secrets not loaded", "providers": ["gemini"]},
    )
    status, body = get(gateway, "/health/ready")
    assert (status, body["reason"]) == (503, "secrets not loaded")
    gateway.secrets_loaded = True  # what load_secrets() does once the secret is read
    assert get(gateway, "/health/startup")[0] == 200
    assert get(gateway, "/health/ready")[0] == 200


def test_no_provider_key_is_not_ready_but_started() -> None:
    gateway = Gateway(Config.model_validate(OPEN))
    assert get(gateway, "/health/startup")[0] == 200
    assert get(gateway, "/health/ready") == (
        503,
        {"status": "unavailable", "reason": "no provider configured", "providers": []},
    )
    gateway.set_api_keys({"gemini": "rotated-in-gemini-key"})
    assert get(gateway, "/health/ready") == (200, {"status": "ok", "providers": ["gemini"]})


def test_draining_is_not_ready_but_still_live_and_serving() -> None:
    gateway = keyed_gateway()
    gateway.start_draining()
    status, body = get(gateway, "/health/ready")
    assert (status, body["reason"]) == (503, "draining")
    assert get(gateway, "/health/live")[0] == 200
    assert get(gateway, "/health/startup")[0] == 200
    # Requests are still answered, with `connection: close` so keep-alive clients move on.
    response: CoreResponse = asyncio.run(gateway.handle(CoreRequest("GET", "/", {})))
    assert response.status == 200
    assert (b"connection", b"close") in response.headers


def test_probes_refuse_other_methods_and_never_count_as_requests() -> None:
    gateway = keyed_gateway()
    assert get(gateway, "/health/ready", method="POST")[0] == 405
    assert get(gateway, "/health/ready", method="HEAD")[0] == 200
    assert gateway.prometheus is not None
    exposition = gateway.prometheus.render()[0].decode()
    assert "ai_proxy_requests_total{" not in exposition


def test_probes_over_http_with_the_lifespan() -> None:
    app_gateway = keyed_gateway()
    with serve(GatewayApp(app_gateway)) as url:
        ready = httpx.get(url + "/health/ready")
        assert ready.status_code == 200
        assert ready.headers["content-type"] == "application/json"
        assert ready.json() == {"status": "ok", "providers": ["gemini"]}
        app_gateway.draining = True
        assert httpx.get(url + "/health/ready").status_code == 503


def test_sigterm_fails_readiness_at_once_and_stops_the_server_after_the_drain() -> None:
    gateway = keyed_gateway()
    handed_over: list[tuple[int, float]] = []

    def server_handler(sig: int, frame: FrameType | None) -> None:
        handed_over.append((sig, loop.time()))

    async def scenario() -> None:
        drain = DrainOnSigterm.install(gateway, drain_seconds=0.3)
        assert drain is not None
        sent = loop.time()
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)
        ready = await gateway.handle(CoreRequest("GET", "/health/ready", {}))
        assert ready.status == 503
        assert handed_over == []  # the listener stays open during the drain
        await asyncio.sleep(0.5)
        assert [sig for sig, _ in handed_over] == [signal.SIGTERM]
        assert handed_over[0][1] - sent >= 0.29
        drain.uninstall()
        assert signal.getsignal(signal.SIGTERM) == server_handler

    previous = signal.signal(signal.SIGTERM, server_handler)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        signal.signal(signal.SIGTERM, previous)


def test_second_sigterm_skips_the_rest_of_the_drain() -> None:
    gateway = keyed_gateway()
    handed_over: list[int] = []

    async def scenario() -> None:
        drain = DrainOnSigterm.install(gateway, drain_seconds=30)
        assert drain is not None
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.01)
        assert handed_over == []
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.01)
        assert handed_over == [signal.SIGTERM]
        drain.uninstall()

    previous = signal.signal(signal.SIGTERM, lambda sig, frame: handed_over.append(sig))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("handler", [signal.SIG_DFL, signal.SIG_IGN])
def test_nothing_is_installed_where_no_server_owns_sigterm(handler: signal.Handlers) -> None:
    previous = signal.signal(signal.SIGTERM, handler)
    try:

        async def install() -> DrainOnSigterm | None:
            return DrainOnSigterm.install(keyed_gateway(), 1.0)

        assert asyncio.run(install()) is None
        assert signal.getsignal(signal.SIGTERM) == handler
    finally:
        signal.signal(signal.SIGTERM, previous)
