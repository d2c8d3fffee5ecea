"""One Lambda cold start, run by bench/run.py as a fresh process: init, then one invocation.

The init phase is the import of the handler module (config, secret read from Secrets Manager,
gateway built); then one API Gateway HTTP API (v2) event is invoked. Prints one JSON line.
Environment: AI_PROXY_CONFIG (the Lambda's config), BENCH_BODY (request body file),
BENCH_T0 (the parent's time.time() just before it started this process).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class _Context:
    aws_request_id = "bench-0000-1111-2222-333344445555"
    function_name = "ai-proxy-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ai-proxy-bench"
    memory_limit_in_mb = "512"
    log_group_name = "/aws/lambda/ai-proxy-bench"
    log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def _event(body: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/messages",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "host": "bench.lambda-url.us-east-1.on.aws",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.lambda-url.us-east-1.on.aws",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": "/v1/messages",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench-apigw-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "14/Jun/2025:12:00:00 +0000",
            "timeEpoch": 1749902400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


# bench/ holds modules named like common packages (client, report, ...): keep them out of the
# way of what this process imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]


def main() -> None:
    t0 = float(os.environ.get("BENCH_T0", time.time()))
    from ai_proxy_aws_lambda import handler as module  # the init phase

    initialised = time.time()
    body = Path(os.environ["BENCH_BODY"]).read_text()
    response = module.handler(_event(body), _Context())
    done = time.time()
    print(
        json.dumps(
            {
                "status": response.get("statusCode"),
                "init_ms": (initialised - t0) * 1000,
                "total_ms": (done - t0) * 1000,
                "cpu_ms": sum(os.times()[:2]) * 1000,
                "body": str(response.get("body", ""))[:300],
            }
        ),
        flush=True,
    )
    sys.stdout.flush()
    os._exit(0)  # a frozen Lambda never tears down; neither do we


if __name__ == "__main__":
    main()
