"""Identifiers we mint for messages and tool calls, shaped like Anthropic's own."""

from __future__ import annotations

import secrets


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def new_tool_use_id() -> str:
    # token_urlsafe yields [A-Za-z0-9_-], which is what Anthropic accepts for tool ids.
    return "toolu_" + secrets.token_urlsafe(18)


def new_server_tool_use_id() -> str:
    """A call the upstream ran itself (web search, web fetch): Anthropic's `srvtoolu_` ids."""
    return "srvtoolu_" + secrets.token_urlsafe(18)
