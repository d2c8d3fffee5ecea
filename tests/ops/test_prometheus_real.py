"""The shipped dashboard and alerts against a real Prometheus scraping a real `ai-proxy`.

One gateway process (against the fake Gemini and a fake GCP Secret Manager) is scraped every
second by Debian's prometheus while traffic runs in phases. Each alert's expression, as shipped,
is evaluated through the query API: quiet before its fault, firing after it (`for:` is
Prometheus's business and is not waited for). Then every dashboard panel must return series.
The values seen are printed (`pytest -s`) for the issue's closing note.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.adapters.processes import ROOT, free_port, serve
from tests.fakes.gcp_secret_manager import FakeSecretManager
from tests.fakes.gemini import FakeGemini, RecordedRequest
from tests.fakes.gemini_replies import (
    Reply,
    Timing,
    Usage,
    internal_error,
    overloaded,
    rate_limited,
    text_answer,
)
from tests.fakes.redis_server import RedisServer
from tests.fakes.server import BackgroundServer

from .prometheus import (
    ALERTS,
    JOB,
    PROMETHEUS_RULE,
    Prometheus,
    alert_rules,
    dashboard_panels,
    for_prometheus,
    promtool,
    running_prometheus,
    scrape_config,
    wait_until,
)

pytestmark = pytest.mark.slow

PROJECT = "ops-project"
SECRET = "ai-proxy-api-keys"
CLIENT_KEY = "aip_prometheus-test-client-key-0123456789abcd"
LIMITED_KEY = "aip_prometheus-test-limited-key-0123456789abc"
CAP = 4  # limits.max_concurrent_upstream
SLOW_STREAM_FIRST_TOKEN = 5.5  # over the 5 s of AiProxyTimeToFirstTokenHigh
SLOW_ANSWER = 20.5  # over the 20 s of AiProxyLatencyHigh
HOLD = 3.0  # a stream holding its upstream slot, under both thresholds
ALIASES = {
    "fast": "gemini/gemini-2.5-flash",
    "slow": "gemini/gemini-2.5-pro",
    "hold": "gemini/gemini-2.0-flash",
    # The first target always answers 503: retried, then the fallback serves.
    "chain": ["gemini/gemini-1.5-flash", "gemini/gemini-2.5-flash"],
}


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def reply_for(request: RecordedRequest) -> Reply:
    """The fake Gemini's answer, by model and by the fault named in the message text."""
    text = json.dumps(request.json)
    if "fault-429" in text:
        return rate_limited(retry_delay="0s")
    if "fault-500" in text:
        return internal_error()
    if request.model == "gemini-1.5-flash":
        return overloaded()
    if request.model == "gemini-2.5-pro":
        wait = SLOW_STREAM_FIRST_TOKEN if request.streaming else SLOW_ANSWER
        return text_answer("slow answer", timing=Timing(before_first_chunk=wait))
    if request.model == "gemini-2.0-flash":
        return text_answer("held", timing=Timing(before_first_chunk=HOLD))
    return text_answer("hello from the fake", chunks=3, usage=Usage(prompt=40, cached=10))


class Traffic:
    """The client side: counts the requests sent, so a scrape can be waited for."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.sent = 0
        self._lock = threading.Lock()

    def post(
        self,
        model: str,
        *,
        stream: bool = False,
        text: str = "Hello",
        key: str = CLIENT_KEY,
        body: dict[str, Any] | None = None,
        path: str = "/v1/messages",
    ) -> httpx.Response:
        payload = body or {
            "model": model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }
        with self._lock:
            self.sent += 1
        return self.client.post(path, json=payload, headers={"x-api-key": key})


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        fake.enqueue(*[reply_for] * 10_000)
        yield fake


@pytest.fixture
def secret_manager(gemini: FakeGemini) -> Iterator[tuple[FakeSecretManager, str]]:
    fake = FakeSecretManager()
    fake.put(PROJECT, SECRET, orjson.dumps({"gemini": gemini.api_key}))
    with BackgroundServer(fake, name="fake-secret-manager") as server:
        yield fake, server.base_url


@pytest.fixture
def redis_store(tmp_path: Path) -> Iterator[RedisServer]:
    """The limit store the gateway meters into; killed to make AiProxyLimitStoreFailing fire."""
    with RedisServer(tmp_path) as server:
        yield server


def gateway_env(gemini: FakeGemini, secrets_url: str, redis_url: str) -> dict[str, str]:
    keys = [
        {"name": "ci", "sha256": _digest(CLIENT_KEY)},
        {"name": "limited", "sha256": _digest(LIMITED_KEY), "requests_per_minute": 1},
    ]
    return {
        "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
        "AI_PROXY_ROUTING__ALIASES": json.dumps(ALIASES),
        "AI_PROXY_AUTH__CLIENT_KEYS": json.dumps(keys),
        "AI_PROXY_LIMITS__MAX_CONCURRENT_UPSTREAM": str(CAP),
        "AI_PROXY_LIMITS__STORE": "redis",
        "AI_PROXY_LIMITS__REDIS_URL": redis_url,
        "AI_PROXY_RETRIES__INITIAL_BACKOFF_SECONDS": "0.001",
        "AI_PROXY_RETRIES__MAX_BACKOFF_SECONDS": "0.002",
        "AI_PROXY_SECRETS__SOURCE": "gcp",
        "AI_PROXY_SECRETS__GCP_PROJECT": PROJECT,
        "AI_PROXY_SECRETS__GCP_ENDPOINT": secrets_url,
        "AI_PROXY_SECRETS__REFRESH_SECONDS": "1",
        "AI_PROXY_LOG__LEVEL": "warning",
    }


class Alerts:
    """Each shipped alert expression, evaluated now; values kept for the report."""

    def __init__(self, prometheus: Prometheus, traffic: Traffic) -> None:
        self.prometheus = prometheus
        self.traffic = traffic
        self.rules = alert_rules()
        self.seen: dict[str, str] = {}

    def caught_up(self) -> None:
        """Wait until Prometheus has scraped every request sent so far."""
        expr = f'sum(ai_proxy_requests_total{{job="{JOB}"}})'

        def scraped() -> bool | None:
            result = self.prometheus.query(expr)
            return (bool(result) and float(result[0]["value"][1]) >= self.traffic.sent) or None

        wait_until(scraped, f"a scrape counting {self.traffic.sent} requests")

    def sustained(self) -> Iterator[None]:
        """A fault twice, with a scrape in between: a counter series that first appears at N
        has no rate until it grows, as with any new series in Prometheus."""
        yield
        self.caught_up()
        yield

    def assert_quiet(self, *names: str) -> None:
        self.caught_up()
        for name in names:
            result = self.prometheus.query(self.rules[name])
            assert result == [], f"{name} fires without its fault: {result}"

    def assert_fires(self, name: str, timeout: float = 20.0) -> None:
        series = wait_until(
            lambda: self.prometheus.query(self.rules[name]) or None, f"{name} to fire", timeout
        )
        self.seen[name] = ", ".join(_shown(item) for item in series)


def _shown(item: dict[str, Any]) -> str:
    labels = {k: v for k, v in item["metric"].items() if k not in ("job", "instance")}
    value = float(item["value"][1])
    return f"{labels or ''} {value:.4g}".strip()


def _baseline(traffic: Traffic) -> None:
    for index in range(6):
        assert traffic.post("fast", stream=index % 2 == 1).status_code == 200
    assert traffic.post("gemini-2.5-flash").status_code == 200
    for _ in range(2):
        response = traffic.post("chain")
        assert response.status_code == 200
        assert response.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-flash"
    counted = traffic.post("fast", path="/v1/messages/count_tokens")
    assert counted.status_code == 200
    # Client errors: no max_tokens, an unknown model, a wrong key, our own rate limit.
    assert traffic.post("fast", body={"model": "fast", "messages": []}).status_code == 400
    assert traffic.post("not-a-model-anyone-serves").status_code == 404
    assert traffic.post("fast", key="aip_wrong-key-0000000000000000000000").status_code == 401
    assert traffic.post("fast", key=LIMITED_KEY).status_code == 200
    assert traffic.post("fast", key=LIMITED_KEY).status_code == 429


def _slow_streams(traffic: Traffic) -> httpx.Response:
    """Two slow streams one after the other: the second gives the new series a rate."""
    assert traffic.post("slow", stream=True).status_code == 200
    return traffic.post("slow", stream=True)


def _hold_the_cap(traffic: Traffic, pool: ThreadPoolExecutor) -> None:
    """CAP streams holding every upstream slot, then a request that must be answered 529."""
    holds = [pool.submit(traffic.post, "hold", stream=True) for _ in range(CAP)]

    def all_held() -> bool | None:
        metrics = traffic.client.get("/metrics").text
        [line] = [x for x in metrics.splitlines() if x.startswith("ai_proxy_requests_in_flight ")]
        return float(line.split()[1]) >= CAP or None

    # No probe before every hold has its slot: a probe in flight would take one from a hold.
    wait_until(all_held, f"{CAP} streams holding the upstream slots", timeout=HOLD)
    assert traffic.post("fast").status_code == 529
    assert [hold.result().status_code for hold in holds] == [200] * CAP


def test_dashboard_and_alerts_against_a_real_prometheus(
    gemini: FakeGemini,
    secret_manager: tuple[FakeSecretManager, str],
    redis_store: RedisServer,
    tmp_path: Path,
) -> None:
    secrets, secrets_url = secret_manager
    port = free_port()
    command = [str(Path(sys.executable).with_name("ai-proxy")), "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    env = gateway_env(gemini, secrets_url, redis_store.url)
    report: list[str] = []
    with (
        ThreadPoolExecutor(8) as pool,
        running_prometheus(tmp_path, f"127.0.0.1:{port}") as prometheus,
    ):
        with serve(command, env, port) as base_url:
            traffic = Traffic(base_url)
            alerts = Alerts(prometheus, traffic)
            assert set(alerts.rules) <= prometheus.rule_names()  # the rule file loaded
            wait_until(
                lambda: prometheus.query(f'up{{job="{JOB}"}} == 1') or None, "the first scrape"
            )
            _baseline(traffic)
            alerts.assert_quiet(*alerts.rules)

            slow = [pool.submit(traffic.post, "slow"), pool.submit(_slow_streams, traffic)]
            for _ in alerts.sustained():
                for _ in range(3):
                    assert traffic.post("fast", text="fault-429").status_code == 429
            alerts.assert_fires("AiProxyUpstreamRateLimited")
            alerts.assert_quiet("AiProxyHighErrorRatio", "AiProxyConcurrencyCapReached")

            for _ in alerts.sustained():
                for _ in range(3):
                    assert traffic.post("fast", text="fault-500").status_code == 500
            alerts.assert_fires("AiProxyHighErrorRatio")

            alerts.assert_quiet("AiProxyLimitStoreFailing")
            redis_store.kill()  # on_store_error = "allow": still served, counted as failing
            for _ in alerts.sustained():
                assert traffic.post("fast").status_code == 200
            alerts.assert_fires("AiProxyLimitStoreFailing")

            alerts.assert_quiet("AiProxySecretRefreshFailing")
            secrets.denied.add((PROJECT, SECRET))
            alerts.assert_fires("AiProxySecretRefreshFailing")

            assert [f.result().status_code for f in slow] == [200, 200]
            alerts.caught_up()
            alerts.assert_fires("AiProxyLatencyHigh")
            alerts.assert_fires("AiProxyTimeToFirstTokenHigh")

            # After the slow requests: then the holds are the only ones with a slot.
            alerts.assert_quiet("AiProxyConcurrencyCapReached")
            for _ in alerts.sustained():
                _hold_the_cap(traffic, pool)
            alerts.assert_fires("AiProxyConcurrencyCapReached")

            for panel in dashboard_panels():
                for expr in panel.exprs:
                    series = prometheus.query(for_prometheus(expr))
                    assert series, f"panel {panel.title!r} returns no series: {expr}"
                    report.append(f"panel {panel.title}: " + "; ".join(map(_shown, series)))
            for label in ("instance", "model", "provider"):
                assert prometheus.label_values(label, "ai_proxy_requests_total"), label
            alerts.assert_quiet("AiProxyNoReadyInstance")
            traffic.client.close()
        alerts.assert_fires("AiProxyNoReadyInstance")
    report += [f"alert {name}: {value}" for name, value in alerts.seen.items()]
    print("\n" + "\n".join(report))
    assert set(alerts.seen) == set(alerts.rules)


def test_promtool_accepts_the_rules_and_a_config_using_them(tmp_path: Path) -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config("127.0.0.1:3000", ALERTS)))
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The README's scrape configuration; Debian builds Prometheus without Kubernetes discovery,
    # so its kubernetes_sd job is left out here (the PodMonitor covers Kubernetes).
    readme = yaml.safe_load(_readme_block("yaml", "# prometheus.yml"))
    readme["scrape_configs"] = [
        job for job in readme["scrape_configs"] if "kubernetes_sd_configs" not in job
    ]
    assert readme["scrape_configs"]
    readme_config = tmp_path / "readme-prometheus.yml"
    readme_config.write_text(yaml.safe_dump(readme))
    checked = promtool("check", "config", str(readme_config))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_prometheus_rule_carries_the_same_groups() -> None:
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


def test_every_alert_has_a_runbook_line_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in alert_rules():
        assert re.search(rf"^\| `{name}` \|", readme, re.M), f"no runbook line for {name}"


def test_readme_queries_come_from_the_dashboard_and_alerts() -> None:
    tested = {
        _without_variables(expr) for panel in dashboard_panels() for expr in panel.exprs
    } | set(alert_rules().values())
    queries = [
        line
        for line in _readme_block("promql", "# Requests per second").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert queries
    for query in queries:
        assert query in tested, f"README query not in the dashboard or alerts: {query}"


def _without_variables(expr: str) -> str:
    """A panel's query as the README prints it: no Grafana variables, a 5m window."""
    expr = re.sub(r'\w+=~"\$\w+"(, )?', "", expr).replace("{}", "")
    return expr.replace("$__rate_interval", "5m")


def _readme_block(language: str, first_line: str) -> str:
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(rf"```{language}\n(.*?)```", readme, re.S):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"no ```{language} block starting {first_line!r} in the README")
