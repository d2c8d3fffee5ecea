"""A Lambda context object and event loading, as the Lambda Python runtime would supply them."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent.parent / "fixtures" / "lambda_events"
EVENT_FILES = ("apigw_v1_rest.json", "apigw_v2_http.json", "lambda_function_url.json", "alb.json")


@dataclass
class LambdaContext:
    function_name: str = "ai-proxy"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ai-proxy"
    log_group_name: str = "/aws/lambda/ai-proxy"
    log_stream_name: str = "2025/04/09/[$LATEST]0123456789abcdef"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_event(name: str, body: bytes | None = None, method: str | None = None) -> dict[str, Any]:
    """The event file, optionally with another body (kept base64 where the file has it)."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    if body is not None:
        if event.get("isBase64Encoded"):
            event["body"] = base64.b64encode(body).decode()
        else:
            event["body"] = body.decode()
    if method is not None:
        if "httpMethod" in event:
            event["httpMethod"] = method
        else:
            event["requestContext"]["http"]["method"] = method
    return event


def response_body(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()


def response_header(response: dict[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name:
            return str(values[0])
    return None
