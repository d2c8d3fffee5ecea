"""Who may be served: the client key, checked once per request, then the key's rate.

The ASGI app checks the key before it reads a body (a stranger cannot make us buffer one) and
hands its verdict on in `CoreRequest.admission`; entries that hand over a whole request leave
it to the gateway. Either way the key is hashed once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from . import routes
from .auth import ClientAuth, ClientKey
from .config import Config
from .errors import AuthenticationFailed, GatewayError, RateLimited
from .limits import RateLimiter, TokenBucketLimiter
from .observability import RequestRecord
from .plain import CoreRequest

log = logging.getLogger("ai_proxy.gateway")


class Admission:
    def __init__(self, config: Config) -> None:
        self.auth = ClientAuth.from_config(config.auth)
        if config.secrets.source == "env":
            self.auth.check_configured()  # else after the secret source is read
        if self.auth.disabled:
            log.warning(
                "client authentication is disabled (auth.disabled = true): anyone who can "
                "reach this server can spend its provider keys"
            )
        self._rate = config.limits.requests_per_minute
        self.rate_limiter: RateLimiter | None = None
        if self._rate or any(k.requests_per_minute for k in self.auth.keys):
            self.rate_limiter = TokenBucketLimiter(burst=config.limits.burst)

    def check_key(
        self, route: routes.Route | None, headers: Mapping[str, str]
    ) -> ClientKey | AuthenticationFailed | None:
        """The key a request to `route` presents, or why it is refused; None: no key needed."""
        if not routes.needs_key(route):
            return None
        try:
            return self.auth.authenticate(headers)
        except AuthenticationFailed as refused:
            return refused

    async def admit(self, request: CoreRequest, record: RequestRecord) -> None:
        """Raise unless the request's key is valid and under its rate (ai_proxy.limits)."""
        key = request.admission
        if key is None:
            key = self.auth.authenticate(request.headers)
        elif isinstance(key, GatewayError):
            raise key
        record.client_name = key.name
        if self.rate_limiter is None:
            return
        rate = self._rate if key.requests_per_minute is None else key.requests_per_minute
        if rate:
            wait = await self.rate_limiter.acquire(key.name, rate)
            if wait:
                raise RateLimited(
                    f"client key '{key.name}' is over its limit of {rate} requests per minute",
                    retry_after=str(max(1, math.ceil(wait))),
                    try_next_target=False,
                )
