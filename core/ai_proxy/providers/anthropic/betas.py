"""Which of a client's betas go to Claude on a cloud (Bedrock, Vertex AI).

Anthropic's API takes every beta it knows; the clouds take a list of their own and refuse the
whole request for any other (Bedrock: "invalid beta flag"; Vertex AI: "Unexpected value(s) ...
for the `anthropic-beta` header"). Claude Code sends betas only Anthropic's API knows, so
through a cloud those are not forwarded, and each is logged once. A body field that needed one
is then refused by the cloud in its own words, naming the field. The lists are settings
(`providers.<cloud>.betas`) because the clouds add betas faster than releases come out.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

log = logging.getLogger("ai_proxy.relay")

# Anthropic's API name of a beta -> the clouds' name for the same feature (what Claude Code
# itself sends when it talks to them): tool search with `defer_loading` tools.
CLOUD_NAMES = {"advanced-tool-use-2025-11-20": "tool-search-tool-2025-10-19"}
MAX_REPORTED = 64  # names logged as not forwarded: a client could send endless ones


class Betas:
    def __init__(self, cloud: str, accepted: Collection[str]) -> None:
        self._cloud = cloud
        self._accepted = frozenset(accepted)
        self._reported: set[str] = set()

    def forwarded(self, forward_headers: Mapping[str, str]) -> list[str]:
        """The client's `anthropic-beta` header -> the betas the cloud takes, in order."""
        betas: list[str] = []
        for name in forward_headers.get("anthropic-beta", "").split(","):
            beta = CLOUD_NAMES.get(name.strip(), name.strip())
            if not beta or beta in betas:
                continue
            if beta in self._accepted:
                betas.append(beta)
            elif beta not in self._reported and len(self._reported) < MAX_REPORTED:
                self._reported.add(beta)
                log.info(
                    "%s upstream: beta %r is not forwarded (not in providers.%s.betas)",
                    self._cloud,
                    beta[:100],
                    self._cloud,
                )
        return betas
