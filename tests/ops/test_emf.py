"""CloudWatch EMF lines for Lambda, and the imports serverless entries must not pay for."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from ai_proxy.config import Config
from ai_proxy.emf import EmfMetrics
from ai_proxy.observability import RequestRecord

CONFIG = Config.model_validate({"routing": {"aliases": {"fast": "gemini/gemini-2.5-flash"}}})


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {
        "request_id": "req_1",
        "method": "POST",
        "path": "/v1/messages",
        "started": 10.0,
        "finished": 10.25,
        "status": 200,
        "client_model": "fast",
        "provider": "gemini",
        "upstream_model": "gemini-2.5-flash",
    }
    return RequestRecord(**{**base, **fields})  # type: ignore[arg-type]


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_one_line_per_request_with_bounded_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    emf = EmfMetrics(CONFIG)
    emf.request_finished(
        record(
            stream=True,
            first_token=10.05,
            upstream_started=10.01,
            upstream_finished=10.24,
            usage={"input_tokens": 12, "output_tokens": 30, "cache_read_input_tokens": 4},
            retries=1,
        )
    )
    [line] = emitted(capsys)
    [directive] = line["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "ai-proxy"
    assert set(directive["Dimensions"][0]) == {"route", "provider", "model", "service"}
    assert (line["route"], line["provider"], line["model"]) == ("/v1/messages", "gemini", "fast")
    assert line["Requests"] == [1.0]
    assert line["ServerErrors"] == [0.0]
    assert line["Latency"] == [pytest.approx(250.0)]
    assert line["UpstreamLatency"] == [pytest.approx(230.0)]
    assert line["TimeToFirstToken"] == [pytest.approx(50.0)]
    assert (line["InputTokens"], line["OutputTokens"], line["CacheReadTokens"]) == (
        [12.0],
        [30.0],
        [4.0],
    )
    assert line["Retries"] == [1.0]
    assert "CacheCreationTokens" not in line


def test_errors_get_their_own_line_and_unknown_models_collapse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfMetrics(CONFIG)
    emf.request_finished(
        record(status=404, client_model="made-up", provider=None, error_type="not_found_error")
    )
    emf.secret_refresh_failed("aws")
    main, error, secret = emitted(capsys)
    assert (main["model"], main["provider"], main["ClientErrors"]) == ("other", "none", [1.0])
    assert (error["error_type"], error["Errors"]) == ("not_found_error", [1.0])
    assert "model" not in error  # dimensions do not leak from one line into the next
    assert (secret["source"], secret["SecretRefreshFailures"]) == ("aws", [1.0])


def test_core_imports_leave_metrics_libraries_to_who_needs_them() -> None:
    code = (
        "import sys\n"
        "from ai_proxy.config import Config\n"
        "from ai_proxy.http.app import create_app\n"
        "app = create_app(Config.model_validate("
        "{'metrics': {'prometheus': False}, 'auth': {'disabled': True}}))\n"
        "print(sorted(m for m in ('prometheus_client', 'aws_lambda_powertools') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
