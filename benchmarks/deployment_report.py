"""The deployment benchmark's report: round time both ways, bytes, CPU, SecAgg+, trust."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import trust_overhead
from support.machine import machine_line
from support.output import fmt, markdown_table, problem_lines
from support.processes import TASK_PROCESS


def _kib(value: float) -> str:
    return f"{value / 1024:.1f}"


def _span(values: Iterable[float]) -> str:
    low, high = min(values := list(values)), max(values)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def _comparison_rows(
    before: dict[str, Any], after: dict[str, Any], measures: list[tuple[str, str, int]]
) -> list[list[str]]:
    """Rows (label, before, after, after / before) of (label, key, digits) measures, and
    the consortium-test AUC of both."""
    rows = [
        [label, fmt(before[key], digits), fmt(after[key], digits), _ratio(after[key], before[key])]
        for label, key, digits in measures
    ]
    auc = "consortium_test_auc"
    return [*rows, ["consortium-test AUC", fmt(before[auc]), fmt(after[auc]), ""]]


def render_markdown(result: dict[str, Any]) -> str:
    """The short report: round time both ways, bytes per party, where the time goes."""
    sim, dep = result["simulation"], result["deployment"]
    rounds = result["run_config"]["rounds"]
    steady_label = f"median of rounds 2–{rounds}" if rounds > 1 else "median round"
    time_rows = _comparison_rows(
        sim,
        dep,
        [
            (f"round time, {steady_label} (s)", "steady_round_median_seconds", 2),
            ("round 1 (s)", "first_round_seconds", 2),
            (f"all {rounds} rounds (s)", "rounds_total_seconds", 1),
            ("start-up and finish, outside rounds (s)", "outside_rounds_seconds", 1),
        ],
    )
    time_table = markdown_table(
        ["", "simulation (Ray)", "deployment (TLS, 127.0.0.1)", "deployment / simulation"],
        time_rows,
    )
    byte_rows = []
    for party, b in dep["bytes"].items():
        idle = b["idle_per_second"]
        round_s = dep["steady_round_median_seconds"]
        byte_rows.append(
            [
                party,
                _kib(b["steady_round_median"]["sent"]),
                _kib(b["steady_round_median"]["received"]),
                _kib(b["per_round"][0]["sent"]),
                _kib(b["per_round"][0]["received"]),
                _kib(b["run_total_per_round"]["sent"]),
                _kib(b["run_total_per_round"]["received"]),
                f"{_kib(idle['sent'] * round_s)} / {_kib(idle['received'] * round_s)}",
                f"{b['steady_round_median']['connections']:g}",
            ]
        )
    byte_table = markdown_table(
        [
            "party",
            "sent / round (KiB)",
            "received / round (KiB)",
            "round 1 sent",
            "round 1 received",
            f"whole run ÷ {rounds}, sent",
            f"whole run ÷ {rounds}, received",
            "idle node, same time: sent / received",
            "TCP+TLS connections opened / round",
        ],
        byte_rows,
    )
    start = dep["startup"]
    cpu = dep["cpu_during_run"]["by_process_kind"]
    cpu_text = ", ".join(
        f"`{kind}` {c['cpu_seconds']:.1f} s"
        + (f" ({int(c['started'])} started)" if c["started"] else "")
        for kind, c in sorted(cpu.items(), key=lambda kv: -kv[1]["cpu_seconds"])
        if c["cpu_seconds"] >= 0.05
    )
    total_cpu = sum(c["cpu_seconds"] for c in cpu.values())
    clientapp = cpu.get(TASK_PROCESS, {"started": 0, "lifetimes_seconds": [], "cpu_each": []})
    lifetimes, cpu_each = clientapp["lifetimes_seconds"], clientapp["cpu_each"]
    clientapp_text = (
        f"each lived a median {statistics.median(lifetimes):.1f} s "
        f"[{min(lifetimes):.1f}–{max(lifetimes):.1f}] and used a median "
        f"{statistics.median(cpu_each):.1f} s of CPU"
        if lifetimes
        else "lifetimes not sampled"
    )
    fab = result.get("fab_bytes")
    poll = result["polling_seconds"]
    lines = [
        "# Deployment vs simulation",
        "",
        f"One run each of the same run config ({result['run_config']['model'].upper()}, "
        f"{rounds} rounds, DP-SGD at ε = {result['run_config']['epsilon']:g}, other "
        "`RunConfig` defaults) on the demo consortium's three institutions. Deployment: "
        "`fedscore server start` (SuperLink, TLS, SuperNode authentication), three "
        "`fedscore node start` and `fedscore run`, all on 127.0.0.1, each SuperNode "
        "through its own byte-counting TCP proxy. Round time is the ServerApp's wall time "
        "per round (training, with the previous round's federated evaluation folded in; "
        "aggregation; the consortium test; the last round also its model's evaluation) from "
        "metrics.json; start-up is outside it.",
        "",
        "## Round time",
        "",
        time_table,
        "",
        f"Deployment start-up: SuperLink ready {start['superlink_ready_seconds']:.1f} s "
        "after launch (includes registering the 3 node keys), SuperNodes connected "
        f"{start['supernodes_connected_seconds']:.1f} s later; `fedscore run` → round 1 "
        f"starts {start['run_launch_to_round_1_seconds']:.1f} s (FAB build and upload, "
        "ServerApp process start); last round → run ended "
        f"{start['after_last_round_to_exit_seconds']:.1f} s. Simulation, outside rounds: "
        "input checks, Ray start and stop, initial consortium test, run directory.",
        "",
        "Where a deployed round's time goes: a round is one exchange (each training "
        "request also carries the previous round's model to evaluate; the last model is "
        "evaluated in one more exchange), and every message runs in a task process of its "
        "own, forked from the party's warm forkserver (fedscore's executor: torch, Opacus "
        f"and fedscore imported once; {int(clientapp['started'])} started for {rounds} "
        f"rounds × 3 parties, the final evaluation and the ServerApp; {clientapp_text}), "
        "which checks the app, then reads the party's de-identified, encoded table from "
        "its cache. Each message's records travel packed in one Flower object "
        "(`core/protocol/packing.py`: 3 objects per message instead of 8 for a training "
        "request and 10 for its reply). The waits on the path, Flower 1.42's → fedscore's: "
        + " / ".join(
            f"{poll[key]['flower']:g} → {poll[key]['fedscore']:g} s ({label})"
            for key, label in (
                ("supernode_pull_when_idle", "idle SuperNode pull"),
                ("supernode_pull_in_a_run", "SuperNode pull during a run"),
                ("supernode_reply_wait", "SuperNode reply check"),
                ("executor_task_poll", "task poll"),
                ("serverapp_grid_pull", "ServerApp reply pull"),
            )
        )
        + ". CPU during the run, all processes: "
        f"{total_cpu:.0f} s over {dep['run_wall_seconds']:.0f} s of wall time on "
        f"{result['machine']['usable_cores']} cores — {cpu_text}; the proxies and samplers "
        f"in the benchmark process {dep['cpu_during_run']['benchmark_process_seconds']:.1f} s.",
        "",
        f"## Bytes on the wire per party (KiB; TLS records, {steady_label} unless noted)",
        "",
        byte_table,
        "",
        "Sent: SuperNode → SuperLink; received: SuperLink → SuperNode. Round 1 includes "
        "fetching the run and the FAB"
        + (f" ({fab / 1024:.0f} KiB compressed, built from this checkout)" if fab else "")
        + ". Idle: a connected node with no run, measured over "
        f"{dep['idle_window_seconds']:.0f} s before the run and scaled to the median "
        "round's duration. Each new connection needs a new TLS handshake (the SuperLink's "
        "certificate chain, unless the session is resumed); a party opened "
        f"{_span(b['run_total']['connections'] for b in dep['bytes'].values())} during the "
        "run.",
        "",
        "## Time per round, broken down",
        "",
        breakdown_markdown(dep),
        "",
        "## Secure aggregation (SecAgg+)",
        "",
        secagg_markdown(result),
        "",
        trust_overhead.markdown(dep["trust_boundary"]),
        "",
    ]
    cores = result["machine"]["usable_cores"] or 1
    run_cpu = dep["cpu_during_run"]
    lines += [
        "## Other work on the machine",
        "",
        f"Busy CPU of the whole machine during the simulated run: "
        f"{sim['machine_busy_cpu_seconds']:.0f} s over {sim['measured_window_seconds']:.0f} s "
        f"({sim['machine_busy_cpu_seconds'] / (cores * sim['measured_window_seconds']):.0%} of "
        f"{cores} cores); during the deployed run {run_cpu['machine_busy_seconds']:.0f} s "
        f"over {dep['run_wall_seconds']:.0f} s "
        f"({run_cpu['machine_busy_seconds'] / (cores * dep['run_wall_seconds']):.0%}), of "
        f"which about {max(run_cpu['other_work_seconds'], 0.0):.0f} s were not this "
        "benchmark's processes. Anything well above zero there means the timings were "
        "disturbed.",
        "",
    ]
    lines += problem_lines(result["problems"])
    load = result["load_average_at_start"][0], result["machine"]["load_average_1_5_15min"][0]
    lines += [
        machine_line(result["machine"]),
        f"Total runtime {result['total_seconds']:.0f} s. Load average (1 min) at start "
        f"{load[0]:.2f}, at end {load[1]:.2f}: timings are only meaningful on an otherwise "
        "idle machine.",
    ]
    return "\n".join(lines)


def secagg_ratios(deployment: dict[str, Any]) -> dict[str, Any]:
    """SecAgg+ on vs off on the same running consortium: time and bytes ratios."""
    plain, secure = deployment, deployment["secure_aggregation"]

    def ratio(key: str) -> float:
        return secure[key] / plain[key]

    return {
        "measured": True,
        "steady_round_median_ratio": ratio("steady_round_median_seconds"),
        "round_mean_ratio": ratio("round_mean_seconds"),
        "rounds_total_ratio": ratio("rounds_total_seconds"),
        "bytes_per_round_ratio": {
            party: {
                direction: secure["bytes"][party]["steady_round_median"][direction]
                / plain["bytes"][party]["steady_round_median"][direction]
                for direction in ("sent", "received")
            }
            for party in plain["bytes"]
        },
        "target": "SecAgg+ round < 2x a plain round",
    }


def secagg_markdown(result: dict[str, Any]) -> str:
    """The SecAgg+ on/off table and what a SecAgg+ round adds."""
    plain = result["deployment"]
    secure = plain["secure_aggregation"]
    rounds = result["run_config"]["rounds"]
    rows = _comparison_rows(
        plain,
        secure,
        [
            ("round time, median (s)", "steady_round_median_seconds", 2),
            (f"all {rounds} rounds (s)", "rounds_total_seconds", 1),
        ],
    )
    ratios = result["secure_aggregation"]["bytes_per_round_ratio"]
    for party, b in plain["bytes"].items():
        on = secure["bytes"][party]["steady_round_median"]
        off = b["steady_round_median"]
        rows.append(
            [
                f"{party}: sent / received per round (KiB)",
                f"{_kib(off['sent'])} / {_kib(off['received'])}",
                f"{_kib(on['sent'])} / {_kib(on['received'])}",
                " / ".join(f"{ratios[party][d]:.1f}×" for d in ("sent", "received")),
            ]
        )
    table = markdown_table(["", "SecAgg+ off", "SecAgg+ on", "on / off"], rows)
    clientapps = secure["cpu_during_run"]["by_process_kind"].get(TASK_PROCESS, {})
    return (
        f"{table}\n\nThe same running consortium, a second run with SecAgg+ on (as `fedscore "
        "run` does by default). A SecAgg+ round sends each party four training requests "
        "instead of one (setup, share keys, collect masked vectors, unmask) and each "
        "party's update travels masked (quantized to 32-bit integers) next to its key "
        f"shares; {int(clientapps.get('started', 0))} task processes were started for that "
        "run. The three protocol-only steps need no model and no data, so they mostly cost "
        "the exchanges' waits. Target: a SecAgg+ round under 2× a plain round."
    )


def breakdown_markdown(deployment: dict[str, Any]) -> str:
    """A steady round's wall time: the task processes' phases and the waiting between."""
    runs = {"SecAgg+ off": deployment, "SecAgg+ on": deployment["secure_aggregation"]}
    labels = {
        "launch_seconds": "process start (fork from the warm executor; imports done once)",
        "pull_seconds": "pull the message from the SuperNode",
        "app_check_seconds": "check the app release (FAB sha256)",
        "handler_seconds": "ClientApp: data from the cache, evaluation, training, commit",
        "push_seconds": "push the reply",
        "waiting_seconds": "waiting: polls, SuperLink, transport, aggregation",
    }
    rows = [
        "| per steady round (s, median message per exchange) | " + " | ".join(runs) + " |",
        "|:---|" + "---:|" * len(runs),
    ]
    for key, label in labels.items():
        cells = [
            f"{run.get('round_breakdown', {}).get(key, float('nan')):.3f}" for run in runs.values()
        ]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append(
        "| round (median of rounds 2–N) | "
        + " | ".join(f"{run['steady_round_median_seconds']:.3f}" for run in runs.values())
        + " |"
    )
    messages = {
        name: ", ".join(
            f"{count['messages']} {kind}" for kind, count in run.get("task_phases", {}).items()
        )
        for name, run in runs.items()
    }
    note = (
        "From the task runners' lines in the parties' logs (one per message: launch, pull, "
        "app check, handler, push). The parties answer an exchange in parallel, so an "
        "exchange costs about one message (the median); SecAgg+ rounds are 4 training "
        "messages per party. Messages answered: "
        + "; ".join(f"{name}: {text}" for name, text in messages.items())
        + "."
    )
    return "\n".join(rows) + "\n\n" + note
