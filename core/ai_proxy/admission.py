"""Who may be served: the key, checked once per request, then (metered routes) its limits.

The ASGI app checks the key before it reads a body (a stranger cannot make us buffer one) and
hands its verdict on in `CoreRequest.admission`; entries that hand over a whole request leave
it to the gateway. Either way the key is hashed once. Client routes take a client key, admin
routes an admin key (a client key there is a 403); metered routes then ask the key's limits
and budgets (ai_proxy.quota.policy).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from . import routes
from .auth import ClientAuth, ClientKey
from .config import Config
from .errors import AuthenticationFailed, GatewayError, PermissionDenied
from .observability import RequestRecord
from .plain import CoreRequest
from .quota.policy import Quota

log = logging.getLogger("ai_proxy.gateway")


class Admission:
    def __init__(self, config: Config, quota: Quota) -> None:
        self.auth = ClientAuth.from_config(config.auth)
        self.admins = ClientAuth.admins_from_config(config.auth)
        self.quota = quota
        if config.secrets.source == "env":
            self.auth.check_configured()  # else after the secret source is read
        if self.auth.disabled:
            log.warning(
                "client authentication is disabled (auth.disabled = true): anyone who can "
                "reach this server can spend its provider keys"
            )

    def check_key(
        self, route: routes.Route | None, headers: Mapping[str, str], query: str = ""
    ) -> ClientKey | GatewayError | None:
        """The key a request to `route` presents, or why it is refused; None: no key needed."""
        if not routes.needs_key(route):
            return None
        try:
            return self._authenticate(route, headers, query)
        except GatewayError as refused:
            return refused

    async def admit(
        self, route: routes.Route | None, request: CoreRequest, record: RequestRecord
    ) -> None:
        """Raise unless the request's key is valid for `route` and, when metered, under its
        limits."""
        key = request.admission
        if key is None:
            key = self._authenticate(route, request.headers, request.query)
        elif isinstance(key, GatewayError):
            raise key
        record.client_name = key.name
        if route is not None and route.access is routes.Access.METERED:
            await self.quota.admit(key, record)

    def _authenticate(
        self, route: routes.Route | None, headers: Mapping[str, str], query: str
    ) -> ClientKey:
        if route is None or route.access is not routes.Access.ADMIN:
            google = route is not None and route.dialect == "gemini"
            return self.auth.authenticate(headers, query if google else None)
        try:
            return self.admins.authenticate(headers)
        except AuthenticationFailed as refused:
            if self.auth.disabled:
                raise
            try:
                client = self.auth.authenticate(headers)
            except AuthenticationFailed:
                raise refused from None
            raise PermissionDenied(
                f"client key '{client.name}' may not read {route.label}: it needs an admin key "
                "(auth.admin_keys)"
            ) from None
