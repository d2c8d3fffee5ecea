"""/health/* and /metrics: answered before a request record exists, neither logged nor counted."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .. import probes
from ..errors import GatewayError, NotFound
from ..plain import JSON_HEADERS, CoreRequest, CoreResponse
from ..routes import Route, check_method

if TYPE_CHECKING:
    from ..gateway import Gateway


class InternalEndpoint:
    """Reads the gateway's own state (draining, secrets, providers, metrics) as it is now."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def __call__(self, route: Route, request: CoreRequest) -> CoreResponse:
        gateway = self._gateway
        try:
            check_method(route, request.method, request.path)
            if route.endpoint == "metrics" and gateway.prometheus is None:
                raise NotFound("metrics are off (metrics.prometheus = false)")
        except GatewayError as error:
            return CoreResponse(error.status, list(JSON_HEADERS), error.json_body())
        if route.endpoint == "metrics":
            prometheus = gateway.prometheus
            assert prometheus is not None
            if prometheus.multiprocess:
                # Reads every worker's files: keep the loop free meanwhile.
                body, content_type = await asyncio.to_thread(prometheus.render)
            else:
                body, content_type = prometheus.render()
            return CoreResponse(200, [(b"content-type", content_type.encode())], body)
        status, body = probes.probe(
            request.path,
            draining=gateway.draining,
            secrets_loaded=gateway.secrets_loaded,
            providers=gateway.configured_providers,
        )
        return CoreResponse(status, [*JSON_HEADERS, (b"cache-control", b"no-store")], body)
