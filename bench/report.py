"""Turn raw runs into the table: medians over repetitions, overhead against direct, targets."""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from typing import Any

# Issue #7's targets.
SMALL_OVERHEAD_MS = 0.5
AGENT_OVERHEAD_MS = 1.5
TTFE_OVERHEAD_MS = 1.0
MIN_RPS_C64 = 3000
P99_OVERHEAD_C64_MS = 30.0
MAX_RSS_MB = 80.0
MAX_COLD_MS = 300.0

_LINE = re.compile(r":\d+\)$")

COLUMNS = [
    "provider",
    "body",
    "mode",
    "c",
    "ingress",
    "direct req/s",
    "req/s",
    "p50 ms",
    "p99 ms",
    "overhead p50 ms",
    "overhead p99 ms",
    "TTFE ms",
    "TTFE overhead ms",
    "CPU ms/req",
    "peak RSS MB",
    "check",
]


def _median(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def _paired(a: list[float], b: list[float]) -> float:
    """Median of per-repetition differences a - b (both measured back to back)."""
    return _median([x - y for x, y in zip(a, b, strict=False)])


def summarise_row(row: dict[str, Any], target: str = "gateway") -> dict[str, float]:
    runs = row["runs"]
    # A run that completed no request has no latency (wrk reports 0): leave it out.
    mine = [
        r if r["requests"] else {**r, "p50": math.nan, "p99": math.nan}
        for r in runs.get(target, [])
    ]
    direct = runs.get("direct", [])
    out = {
        "direct_rps": _median([r["rps"] for r in direct]),
        "rps": _median([r["rps"] for r in mine]),
        "p50_ms": _median([r["p50"] * 1000 for r in mine]),
        "p99_ms": _median([r["p99"] * 1000 for r in mine]),
        "overhead_p50_ms": _paired(
            [r["p50"] * 1000 for r in mine], [r["p50"] * 1000 for r in direct]
        ),
        "overhead_p99_ms": _paired(
            [r["p99"] * 1000 for r in mine], [r["p99"] * 1000 for r in direct]
        ),
        "cpu_ms_per_request": _median(row.get("cpu_ms_per_request", {}).get(target, [])),
        "peak_rss_mb": row.get("peak_rss_mb", {}).get(target, math.nan),
        "errors": sum(r["errors"] for r in mine),
        "ttfe_ms": math.nan,
        "ttfe_overhead_ms": math.nan,
    }
    ttfe = row.get("ttfe", {})
    if ttfe.get(target):
        mine_t = [t["p50"] * 1000 if t["p50"] is not None else math.nan for t in ttfe[target]]
        direct_t = [t["p50"] * 1000 if t["p50"] is not None else math.nan for t in ttfe["direct"]]
        out["ttfe_ms"] = _median(mine_t)
        out["ttfe_overhead_ms"] = _paired(mine_t, direct_t)
    return out


def ingresses(row: dict[str, Any]) -> dict[str, str]:
    """The gateway's client doors measured in this row -> their targets' names (results from
    before --ingress measured /v1/messages alone)."""
    measured: dict[str, str] = row.get("ingresses", {"messages": "gateway"})
    return measured


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Per ingress, each row's summary; `rows` is /v1/messages's, which targets and baselines
    are measured against."""
    by_ingress: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in results["scenarios"]:
        for ingress, target in ingresses(row).items():
            by_ingress[ingress][row["name"]] = summarise_row(row, target)
    rows = by_ingress.get("messages", {})
    summary: dict[str, Any] = {
        "rows": rows,
        "ingresses": dict(by_ingress),
        "targets": targets(results, rows),
    }
    gateway = {target for row in results["scenarios"] for target in ingresses(row).values()}
    baselines = sorted(
        {name for row in results["scenarios"] for name in row["runs"]} - {"direct", *gateway}
    )
    summary["baselines"] = {
        name: {row["name"]: summarise_row(row, name) for row in results["scenarios"]}
        for name in baselines
    }
    return summary


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100 and digits:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def targets(results: dict[str, Any], rows: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def add(name: str, limit: str, value: float, ok: bool | None) -> None:
        checks.append({"target": name, "limit": limit, "measured": value, "met": ok})

    providers = sorted({row["provider"] for row in results["scenarios"]})
    for provider in providers:
        for body, limit in (("small", SMALL_OVERHEAD_MS), ("agent", AGENT_OVERHEAD_MS)):
            row = rows.get(f"{provider}/{body}/json/c1")
            if row:
                value = row["overhead_p50_ms"]
                add(
                    f"{provider} {body} overhead p50, c=1, json",
                    f"≤ {limit} ms",
                    value,
                    value <= limit,
                )
        stream_ttfe = [
            rows[name]["ttfe_overhead_ms"]
            for name in rows
            if name.startswith(f"{provider}/") and name.endswith("/stream/c1")
        ]
        stream_ttfe = [v for v in stream_ttfe if not math.isnan(v)]
        if stream_ttfe:
            worst = max(stream_ttfe)
            add(
                f"{provider} TTFE overhead p50, c=1 (worst body)",
                f"≤ {TTFE_OVERHEAD_MS} ms",
                worst,
                worst <= TTFE_OVERHEAD_MS,
            )
    row = rows.get("gemini/small/json/c64")
    if row:
        add(
            "gemini small c=64 throughput",
            f"≥ {MIN_RPS_C64:,} req/s",
            row["rps"],
            row["rps"] >= MIN_RPS_C64,
        )
        add(
            "gemini small c=64 overhead p99",
            f"≤ {P99_OVERHEAD_C64_MS:.0f} ms",
            row["overhead_p99_ms"],
            row["overhead_p99_ms"] <= P99_OVERHEAD_C64_MS,
        )
    peak = results.get("gateway_peak_rss_mb")
    if peak:
        add(
            "gateway peak RSS (VmHWM, whole run)",
            f"≤ {MAX_RSS_MB:.0f} MB",
            peak,
            peak <= MAX_RSS_MB,
        )
    for cold in results.get("cold_starts", []):
        median = cold.get("median_ms")
        add(
            f"cold start: {cold['entry']}",
            f"≤ {MAX_COLD_MS:.0f} ms",
            median if median is not None else math.nan,
            None if median is None else median <= MAX_COLD_MS,
        )
    return checks


def render(results: dict[str, Any]) -> str:
    summary = summarise(results)
    machine, settings = results["machine"], results["settings"]
    lines = [
        f"## ai-proxy benchmark ({results.get('started', '')})",
        "",
        f"- machine: {machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}, "
        f"Linux {machine['kernel']}",
        f"- command: `{settings['command']}`; {settings['reps']} repetition(s) of "
        f"{settings['duration_s']} s per run, medians shown; load generator: {settings['loadgen']}",
        f"- pinning: {settings['pinning']}",
        f"- gateway: `ai-proxy --config bench-generated.toml` (one uvicorn worker; loaded: "
        f"{', '.join(results.get('gateway_libraries', [])) or 'neither uvloop nor httptools'})",
        f"- fake upstream streams: first event at once, the other events "
        f"{settings['upstream_first_gap_ms']:.1f} ms later, {_event_writes(settings)}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += [
        _table_line(row, ingress, summary["ingresses"][ingress][row["name"]])
        for row in results["scenarios"]
        for ingress in ingresses(row)
    ]
    if results.get("gateway_peak_rss_mb"):
        lines += [
            "",
            f"Gateway peak RSS over the whole run (VmHWM): "
            f"{results['gateway_peak_rss_mb']:.1f} MB.",
        ]
    if len(summary["ingresses"]) > 1 and summary["rows"]:
        lines += ["", *render_ingresses(results, summary["ingresses"])]
    for name, rows in summary.get("baselines", {}).items():
        if summary["rows"]:
            lines += ["", *render_baseline(results, summary["rows"], name, rows)]
    cold = results.get("cold_starts")
    if cold:
        lines += [
            "",
            "### Cold start (fresh process to first 200)",
            "",
            "| entry | median ms | samples ms | CPU ms (median) | imports ms (-X importtime) "
            "| heaviest imports (self ms) |",
            "|---|---|---|---|---|---|",
        ]
        for c in cold:
            if c.get("error") and not c["samples_ms"]:
                lines.append(f"| {c['entry']} | — | — | — | — | not measured: {c['error'][:120]} |")
                continue
            heavy = ", ".join(f"{name} {ms:.0f}" for name, ms in c["imports"][:6])
            samples = ", ".join(f"{x:.0f}" for x in c["samples_ms"])
            detail = f" ({c['detail']})" if c.get("detail") else ""
            lines.append(
                f"| {c['entry']}{detail} | {_fmt(c['median_ms'], 0)} | {samples} | "
                f"{_fmt(_median(c.get('cpu_ms', [])), 0)} | {c['import_total_ms']:.0f} | {heavy} |"
            )
    lines += [
        "",
        "### Targets (issue #7)",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
    ]
    for t in summary["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[t["met"]]
        lines.append(f"| {t['target']} | {t['limit']} | {_fmt(t['measured'])} | {met} |")
    return "\n".join(lines)


def _table_line(row: dict[str, Any], ingress: str, s: dict[str, float]) -> str:
    check = row.get("checks", {}).get(ingress, row["check"])
    if s["errors"]:
        check = f"{check}, {s['errors']} errors"
    cells = [
        row["provider"],
        row["body"],
        row["mode"],
        str(row["concurrency"]),
        ingress,
        _fmt(s["direct_rps"], 0),
        _fmt(s["rps"], 0),
        _fmt(s["p50_ms"]),
        _fmt(s["p99_ms"]),
        _fmt(s["overhead_p50_ms"]),
        _fmt(s["overhead_p99_ms"]),
        _fmt(s["ttfe_ms"]),
        _fmt(s["ttfe_overhead_ms"]),
        _fmt(s["cpu_ms_per_request"], 3),
        _fmt(s["peak_rss_mb"], 1),
        check if check == "ok" else f"FAIL: {check[:60]}",
    ]
    return "| " + " | ".join(cells) + " |"


def render_ingresses(results: dict[str, Any], by_ingress: dict[str, dict[str, Any]]) -> list[str]:
    """Each other client door against /v1/messages, same scenario, same run: what translating
    its format costs on top of the Messages path it ends on."""
    lines = [
        "### Per ingress, against /v1/messages in the same run",
        "",
        "| scenario | ingress | req/s | ÷ messages | CPU ms/req | Δ CPU ms/req | TTFE ms "
        "| Δ TTFE ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["scenarios"]:
        base = by_ingress["messages"].get(row["name"])
        if base is None:
            continue
        for name in [name for name in ingresses(row) if name != "messages"]:
            s = by_ingress[name][row["name"]]
            cpu, ttfe = s["cpu_ms_per_request"], s["ttfe_ms"]
            lines.append(
                f"| {row['name']} | {name} | {_fmt(s['rps'], 0)} | "
                f"{_fmt(s['rps'] / base['rps'])}x | {_fmt(cpu, 3)} | "
                f"{_signed(cpu - base['cpu_ms_per_request'], 3)} | "
                f"{_fmt(ttfe)} | {_signed(ttfe - base['ttfe_ms'], 2)} |"
            )
    return lines


def _signed(value: float, digits: int) -> str:
    return "—" if math.isnan(value) else f"{value:+.{digits}f}"


BASELINES = {
    "floor": "floor: a minimal pass-through proxy (uvicorn + raw ASGI + aiohttp, no translation)",
    "floor-raw": "floor with a minimal httptools client instead of aiohttp (streams buffered)",
    "litellm": "LiteLLM proxy (pinned version, its own virtualenv)",
}


def render_baseline(
    results: dict[str, Any], ours: dict[str, Any], name: str, theirs: dict[str, Any]
) -> list[str]:
    lines = [
        f"### Baseline, same upstream, same run: {BASELINES.get(name, name)}",
        "",
        f"| scenario | ai-proxy req/s | {name} req/s | ai-proxy overhead p50 ms | "
        f"{name} overhead p50 ms | ai-proxy CPU ms/req | {name} CPU ms/req | "
        f"{name} / ai-proxy CPU | {name} errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["scenarios"]:
        if row["name"] not in ours:
            continue
        a, b = ours[row["name"]], theirs[row["name"]]
        ratio = b["cpu_ms_per_request"] / a["cpu_ms_per_request"]
        lines.append(
            f"| {row['name']} | {_fmt(a['rps'], 0)} | {_fmt(b['rps'], 0)} | "
            f"{_fmt(a['overhead_p50_ms'])} | {_fmt(b['overhead_p50_ms'])} | "
            f"{_fmt(a['cpu_ms_per_request'], 3)} | {_fmt(b['cpu_ms_per_request'], 3)} | "
            f"{_fmt(ratio, 2)}x | {b['errors']} |"
        )
    peak = results.get("baseline_peak_rss_mb", {}).get(name)
    if peak:
        lines += ["", f"{name} peak RSS: {peak:.1f} MB."]
    return lines


def profile_summary(raw: str, top: int = 30) -> str:
    """py-spy's raw (collapsed) stacks -> the functions with most samples, self and total."""
    own: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        # "function (file:line)" -> "function (file)": one entry per function, not per line.
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    out = [f"{samples} samples", "", "self %   function"]
    for frame, count in sorted(own.items(), key=lambda x: -x[1])[:top]:
        out.append(f"{100 * count / samples:6.1f}  {frame}")
    out += ["", "total %  function"]
    for frame, count in sorted(total.items(), key=lambda x: -x[1])[:top]:
        out.append(f"{100 * count / samples:6.1f}  {frame}")
    return "\n".join(out)


def _event_writes(settings: dict[str, Any]) -> str:
    gap = settings.get("upstream_event_gap_ms", 0.0)  # absent from results of older runs
    return f"one write each, {gap:.1f} ms apart" if gap else "in one write"
