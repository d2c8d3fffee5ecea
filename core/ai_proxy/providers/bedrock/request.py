"""The client's Messages request -> Bedrock's InvokeModel / CountTokens calls.

The body is Anthropic's under Bedrock's rules: the model is named in the URL, never the body;
`anthropic_version` is the body field `bedrock-2023-05-31`; `stream` is refused (streaming is
its own operation); betas go in the body's `anthropic_beta` list, not a header.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import orjson

from ...anthropic.envelope import decode_json_object
from ...routing import BEDROCK_GEOGRAPHIES
from ..anthropic.request import to_cloud_claude_body

BEDROCK_VERSION = "bedrock-2023-05-31"
EVENTSTREAM = "application/vnd.amazon.eventstream"
# An inference profile's geography in front of the foundation model's id.
_PROFILE_PREFIX = re.compile(rf"^(?:{'|'.join(BEDROCK_GEOGRAPHIES)})\.(?=anthropic\.)")
# What a count_tokens request lacks and InvokeModel's schema requires; it is not counted.
_COUNTING_MAX_TOKENS = 1


def model_path(model_id: str, operation: str) -> str:
    """`/model/{id}/{operation}`; the id quoted whole (`:` in `...-v1:0`, `/` in an ARN)."""
    return f"/model/{quote(model_id, safe='')}/{operation}"


def invoke_path(model_id: str, stream: bool) -> str:
    return model_path(model_id, "invoke-with-response-stream" if stream else "invoke")


def count_tokens_path(model_id: str) -> str:
    # CountTokens takes a foundation model id: an inference profile's is refused as invalid.
    return model_path(_PROFILE_PREFIX.sub("", model_id), "count-tokens")


def to_bedrock_body(client_body: bytes, betas: list[str]) -> bytes:
    fields = {"anthropic_beta": betas} if betas else {}
    return to_cloud_claude_body(client_body, BEDROCK_VERSION, without=("model", "stream"), **fields)


def to_count_tokens_body(client_body: bytes, betas: list[str]) -> bytes:
    """CountTokens' `{"input": {"invokeModel": {"body": <base64>}}}` around the body
    InvokeModel would get (a blob member of a JSON protocol travels as base64)."""
    payload = decode_json_object(client_body)
    payload.setdefault("max_tokens", _COUNTING_MAX_TOKENS)
    invoke_body = to_bedrock_body(orjson.dumps(payload), betas)
    encoded = base64.b64encode(invoke_body).decode()
    return orjson.dumps({"input": {"invokeModel": {"body": encoded}}})
