"""Debian's `prometheus` on a free 127.0.0.1 port, scraping targets every second, and its
HTTP query API; the shipped dashboard and alert expressions, read from deploy/."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.adapters.processes import ROOT, free_port

ALERTS = ROOT / "deploy/prometheus/alerts.yaml"
PROMETHEUS_RULE = ROOT / "deploy/prometheus/prometheus-rule.yaml"
DASHBOARD = ROOT / "deploy/grafana/ai-proxy.json"
JOB = "ai-proxy"  # the job the shipped alerts select
# Grafana's variables as "All" and its rate interval, for evaluating panels outside Grafana.
GRAFANA_VALUES = {
    '"$instance"': '".*"',
    '"$model"': '".*"',
    '"$provider"': '".*"',
    "$__rate_interval": "5m",
}
T = TypeVar("T")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install prometheus; .ci/run does it)")
    return path


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: list[str]


def dashboard_panels() -> list[Panel]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        Panel(panel["title"], [target["expr"] for target in panel["targets"]])
        for panel in dashboard["panels"]
    ]


def alert_rules() -> dict[str, str]:
    """alert name -> expression, as shipped."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"].strip() for group in groups for rule in group["rules"]}


def for_prometheus(expr: str) -> str:
    """A panel's query with Grafana's variables filled in as "All"."""
    for variable, value in GRAFANA_VALUES.items():
        expr = expr.replace(variable, value)
    return expr


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """Poll `check` until it returns a value, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = httpx.Client(base_url=url, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = self._client.get("/api/v1/query", params={"query": expr})
        payload = response.json()
        assert payload["status"] == "success", f"{expr}: {payload}"
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        response = self._client.get(f"/api/v1/label/{label}/values", params={"match[]": match})
        values: list[str] = response.json()["data"]
        return values

    def rule_names(self) -> set[str]:
        groups = self._client.get("/api/v1/rules").json()["data"]["groups"]
        return {rule["name"] for group in groups for rule in group["rules"]}

    def close(self) -> None:
        self._client.close()


def scrape_config(target: str, rule_file: Path) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_file)],
        "scrape_configs": [
            {"job_name": JOB, "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
        ],
    }


@contextmanager
def running_prometheus(workdir: Path, target: str) -> Iterator[Prometheus]:
    """Prometheus scraping `target` (host:port) every second with the shipped alert rules."""
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(target, ALERTS)))
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:

        def ready() -> bool | None:
            if process.poll() is not None:
                raise AssertionError((workdir / "prometheus.log").read_text())
            try:
                return httpx.get(prometheus.url + "/-/ready", timeout=1).status_code == 200 or None
            except httpx.TransportError:
                return None

        wait_until(ready, "prometheus to be ready", timeout=30)
        yield prometheus
    finally:
        prometheus.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )
