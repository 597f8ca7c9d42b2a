"""Results as JSON + Markdown, the pieces of a Markdown report, and console progress."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fedscore.core.documents import write_json
from support.machine import machine_info

#: Where results go by default: benchmarks/results/.
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"

#: Progress and notes go to stderr; the Markdown report to stdout.
console = Console(stderr=True)


def configuration_progress() -> Progress:
    """A progress bar over configurations; the description names the one running."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; columns after the first are right-aligned.

    Args:
        header: the column titles.
        rows: the cells, one list per row, as many as `header`.

    Returns:
        The table's lines joined by newlines.
    """
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---", *["---:"] * (len(header) - 1)]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 4, signed: bool = False) -> str:
    """A number for a table.

    Args:
        value: the number, or None when missing.
        digits: decimals shown.
        signed: always show the sign.

    Returns:
        The number as text; '—' when missing.
    """
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def verdict(met: bool) -> str:
    """A target's verdict in bold: met or not met."""
    return "**met**" if met else "**not met**"


def problem_lines(problems: list[str]) -> list[str]:
    """A report's "Problems" list, with a blank line after it; nothing when there are none."""
    if not problems:
        return []
    return ["**Problems:**", *(f"- {p}" for p in problems), ""]


def write_results(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> list[Path]:
    """Write `<name>.json` and `<name>.md` under `out_dir`.

    Args:
        out_dir: the folder (created if missing).
        name: the benchmark's name, the files' stem.
        data: every measurement (JSON-ready).
        markdown: the report.

    Returns:
        The paths of both files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    write_json(json_path, data)
    md_path.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    return [json_path, md_path]


def publish(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> int:
    """Write the results (`write_results`), say where, and print the report.

    Args:
        out_dir: the folder the results go to.
        name: the benchmark's name, the files' stem.
        data: every measurement (JSON-ready).
        markdown: the report.

    Returns:
        0, the script's exit status.
    """
    for path in write_results(out_dir, name, data, markdown):
        console.print(f"wrote {path}")
    print(markdown)
    return 0


@dataclass
class Session:
    """One run of a benchmark script: where its results go and when it started.

    Attributes:
        name: the benchmark's name, the result files' stem.
        out_dir: where the results go.
        started: `time.perf_counter()` at the start.
        load_at_start: the machine's load averages (1, 5, 15 min) at the start.
    """

    name: str
    out_dir: Path
    started: float = field(default_factory=time.perf_counter)
    load_at_start: list[float] = field(default_factory=lambda: list(os.getloadavg()))

    def finish(
        self,
        result: dict[str, Any],
        render: Callable[[dict[str, Any]], str],
        with_load: bool = False,
    ) -> int:
        """Complete `result`, render its report and publish both (`publish`).

        Args:
            result: every measurement; the load at the start (with `with_load`), the
                machine and the total seconds are added at its end.
            render: the report of the completed result, in Markdown.
            with_load: record the load averages at the start.

        Returns:
            0, the script's exit status.
        """
        completed = dict(result)
        if with_load:
            completed["load_average_at_start"] = self.load_at_start
        completed["machine"] = machine_info()
        completed["total_seconds"] = time.perf_counter() - self.started
        return publish(self.out_dir, self.name, completed, render(completed))
