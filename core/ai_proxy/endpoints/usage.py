"""GET /v1/usage?client=<name>&from=YYYY-MM-DD&to=YYYY-MM-DD: the usage ledger, for admin keys.

One entry per client key, upstream model and UTC day that saw use, with Anthropic's names
for the token counts. `client` left out: every configured client key; `from` and `to` left
out: today (UTC); both dates are included and the range may span at most
`limits.usage_retention_days` days (older days are gone from the ledger anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

from ..errors import InvalidRequest
from ..observability import RequestRecord
from ..plain import CoreRequest, CoreResponse, json_response
from ..quota.policy import Quota
from ..quota.store import NANO, UsageRow

PARAMETERS = ("client", "from", "to")


class UsageEndpoint:
    def __init__(
        self,
        quota: Quota,
        client_names: Callable[[], list[str]],
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._quota = quota
        # Read per request: a secret refresh may change the client keys.
        self._client_names = client_names
        self._today = today

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        query = parse_qs(request.query, keep_blank_values=True)
        for name in query:
            if name not in PARAMETERS:
                raise InvalidRequest(f"unknown query parameter {name!r}; expected client, from, to")
        known = self._client_names()
        client = _single(query, "client")
        if client is not None and client not in known:
            raise InvalidRequest(f"client: no client key is named {client!r}")
        today = self._today()
        first = _day(query, "from") or today
        last = _day(query, "to") or today
        if last < first:
            raise InvalidRequest("to: must not be before from")
        retention = self._quota.retention_days
        if (last - first).days + 1 > retention:
            raise InvalidRequest(
                f"from, to: the range is at most {retention} days (limits.usage_retention_days)"
            )
        rows = await self._quota.usage([client] if client else known, first, last)
        data = [_entry(row) for row in rows]
        return json_response({"data": data, "from": first.isoformat(), "to": last.isoformat()})


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"{name}: give it once")
    return values[0] or None


def _day(query: dict[str, list[str]], name: str) -> date | None:
    value = _single(query, name)
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name}: expected a date as YYYY-MM-DD, got {value[:40]!r}") from None


def _entry(row: UsageRow) -> dict[str, object]:
    return {
        "client": row.client,
        "model": row.model,
        "date": row.day.isoformat(),
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_input_tokens": row.cache_read_tokens,
        "cache_creation_input_tokens": row.cache_write_tokens,
        "cost_usd": row.nanousd / NANO,
    }
