"""The benchmark's smoke run: it starts, measures every column and the gateway answers right,
through /v1/messages and the two OpenAI doors alike.

No timing is asserted: this machine's numbers belong in docs/performance.md, not in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import report  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_benchmark_fills_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            # Sub-second runs use the Python client, so the test needs no wrk.
            "--duration",
            "0.2",
            "--ttfe-duration",
            "0.1",
            "--warmup",
            "0",
            "--concurrency",
            "1,8",
            "--ingress",
            "messages,chat,responses",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    header = next(line for line in done.stdout.splitlines() if line.startswith("| provider"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == report.COLUMNS

    results = json.loads((tmp_path / "results.json").read_text())
    scenarios = results["scenarios"]
    assert {row["body"] for row in scenarios} == {"small", "agent"}
    assert {row["mode"] for row in scenarios} == {"json", "stream"}
    assert "gemini" in {row["provider"] for row in scenarios}
    for row in scenarios:
        assert row["check"] == "ok", row["name"]
        assert row["checks"] == {"messages": "ok", "chat": "ok", "responses": "ok"}, row["name"]
        gateway = list(row["ingresses"].values())
        assert gateway == ["gateway", "gateway:chat", "gateway:responses"]
        for target in ("direct", *gateway):
            runs = row["runs"][target]
            assert runs and all(run["requests"] > 0 for run in runs), (row["name"], target)
            assert all(run["errors"] == 0 for run in runs), (row["name"], target)
        for target in gateway:
            assert row["cpu_ms_per_request"][target], (row["name"], target)
            assert row["peak_rss_mb"][target] > 0, (row["name"], target)
            if row["mode"] == "stream":
                assert row["ttfe"][target][0]["p50"] is not None, (row["name"], target)
    # One table line per scenario and door, and each door next to /v1/messages.
    ingress_cells = [
        line.split("|")[5].strip()
        for line in done.stdout.splitlines()
        if line.startswith(("| gemini |", "| openai |"))
    ]
    assert ingress_cells.count("chat") == ingress_cells.count("messages") == len(scenarios)
    assert "### Per ingress, against /v1/messages" in done.stdout

    cold = {entry["entry"]: entry for entry in results["cold_starts"]}
    local = next(entry for name, entry in cold.items() if name.startswith("local"))
    assert local["samples_ms"] and local["imports"], local
    lambda_entry = next(entry for name, entry in cold.items() if name.startswith("Lambda"))
    assert lambda_entry["samples_ms"] or lambda_entry["error"], lambda_entry
    assert "### Targets" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cloud_cold_start_resolves_each_cloud_s_credentials() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cloud_cold.py"), "--reps", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["scenario"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert list(rows) == ["none", "bedrock", "vertex", "azure_openai"]
    # Each cloud's library is imported only where its provider is enabled.
    for cloud in ("bedrock", "vertex", "azure_openai"):
        assert rows[cloud]["modules"] > rows["none"]["modules"]
        assert rows[cloud]["wall_ms"] > 0 and rows[cloud]["cpu_ms"] > 0
