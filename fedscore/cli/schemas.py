"""`fedscore schema check|draft|export`: task schemas, and configuration JSON Schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedscore.cli.output import console, fail, or_fail, say
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.datasets.schema_tools.draft import Draft

schema_app = typer.Typer(
    help="Task schemas (check one, draft one from data) and the configuration documents' "
    "JSON Schemas.",
    no_args_is_help=True,
)

#: Rows read from the start of a data file by default: `schema_tools.SAMPLE_ROWS`, written
#: out so that `--help` imports no data library (a test checks they agree).
SAMPLE_ROWS = 10_000
#: The mechanism a drafted schema's DP bounds are ledgered as.
DRAFT_BOUNDS = "schema_draft_bounds/sparse_vector"


def existing_file(kind: Callable[..., Any], help_text: str) -> Any:
    """A file parameter that must name an existing, readable file.

    Args:
        kind: `typer.Argument` or `typer.Option`.
        help_text: what the file is, for `--help`.
    """
    return kind(exists=True, dir_okay=False, readable=True, help=help_text)


SampleRows = Annotated[
    int,
    typer.Option(
        "--rows", min=1, help="Rows read from the start of the data file (a bounded sample)."
    ),
]


@schema_app.command("check")
def check(
    task: Annotated[
        Path,
        existing_file(typer.Argument, "The task schema (TOML) to check."),
    ],
    data: Annotated[
        Path | None,
        existing_file(typer.Argument, "A party's table (CSV or Parquet) to check against it."),
    ] = None,
    rows: SampleRows = SAMPLE_ROWS,
) -> None:
    """List every problem of a task schema, and of a sample of a data file against it.

    Problems name file, line or row, and column, never a value. Exit status 0: no problem;
    1: problems, listed (a data file that does not parse is one); 2: a file is missing or
    unreadable, or the schema is not UTF-8 text.
    """
    from fedscore.datasets.schema_tools import check_schema_file, check_table_sample

    schema, report = or_fail(lambda: check_schema_file(task))
    say(f"task schema {task}: {'ok' if report.ok else f'{len(report.problems)} problem(s)'}")
    if data is not None and schema is not None:
        read, table_report = check_table_sample(schema, data, rows)
        sample = f"all {read:,} rows" if read < rows else f"the first {read:,} rows (--rows)"
        verdict = "ok" if table_report.ok else f"{len(table_report.problems)} problem(s)"
        say(f"{data}, {sample}, against it: {verdict}")
        report += table_report
    elif data is not None:
        say(f"{data}: not checked (the task schema must be valid first)")
    for note in report.notes:
        say(f"  note: {note}")
    for problem in report.problems:
        console.print("  problem:", style="bold red", end=" ")
        say(problem)
    if not report.ok:
        console.print(f"{len(report.problems)} problem(s), listed above", style="bold red")
        raise typer.Exit(code=1)
    console.print("no problem found", style="bold green")


@schema_app.command("draft")
def draft(
    data: Annotated[
        Path,
        existing_file(typer.Argument, "A party's table (CSV or Parquet)."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write the draft to this file (default: print it on stdout)."),
    ] = None,
    rows: SampleRows = SAMPLE_ROWS,
    dp_epsilon: Annotated[
        float | None,
        typer.Option(
            help="Estimate the numeric bounds with this total ε (DP search of round numbers "
            "near the 1st and 99th percentiles) instead of leaving them to agree; charged to "
            "--node's budget and ledger.",
        ),
    ] = None,
    node: Annotated[
        Path | None,
        existing_file(
            typer.Option,
            "The node config (TOML) of the party whose table this is: --dp-epsilon is charged "
            "to its budget and signed into its ledger before the draft is shown.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """Draft a task schema from a party's table: roles guessed, what is left to agree marked.

    Every value the consortium must decide is marked TO AGREE (`fedscore schema check` lists
    the marks left). Bounds and vocabularies taken from one institution's data disclose it
    to the others: agree them from domain knowledge. DP bounds (`--dp-epsilon`) spend
    privacy budget: they are charged to the node named by `--node`, and refused when its
    budget cannot afford them.
    """
    from fedscore.datasets.schema_tools import draft_schema
    from fedscore.datasets.schema_tools.draft import DISCLOSURE_WARNING

    if dp_epsilon is not None and not 0 < dp_epsilon < float("inf"):
        fail(FedscoreError(f"--dp-epsilon must be a positive number, not {dp_epsilon}"))
    if (dp_epsilon is None) != (node is None):
        fail(
            FedscoreError(
                "--dp-epsilon and --node go together: DP bounds spend the privacy budget of "
                "the party whose table this is, so give its node config to charge them to"
            )
        )
    if out is not None and out.exists() and not force:
        fail(FedscoreError(f"{out} exists; choose another --out or pass --force to replace it"))
    if out is not None and not out.parent.is_dir():
        fail(FedscoreError(f"{out.parent} is not a folder; create it or choose another --out"))
    drafted = or_fail(lambda: draft_schema(data, rows, dp_epsilon))
    charged = _charge_bounds(drafted, data, node) if node is not None else None
    if out is None:
        typer.echo(drafted.text, nl=False)
    else:
        out.write_text(drafted.text, encoding="utf-8")
        say(f"wrote {out}")
    console.print("warning:", style="bold yellow", end=" ")
    say(DISCLOSURE_WARNING)
    if charged is not None:
        say(
            f"The numeric bounds are ε = {drafted.dp_epsilon:g}-DP estimates (one row per "
            f"person), charged to {charged}. Vocabularies are not private."
        )
    say(
        f"Roles guessed from the first {drafted.rows_read:,} rows; resolve every TO AGREE "
        "mark, then run 'fedscore schema check TASK.toml DATA.csv'."
    )


def _charge_bounds(drafted: Draft, data: Path, node_config: Path) -> str | None:
    """Charge a draft's DP bounds to the node's budget and ledger; say where (None: no bounds).

    Exits with status 2, nothing recorded, when the node's budget cannot afford them.
    """
    from fedscore.clients.node import NodeConfig
    from fedscore.clients.pure_release import charge_release

    if drafted.dp_epsilon is None or not drafted.bounded_columns:
        return None
    epsilon = drafted.dp_epsilon
    node = or_fail(lambda: NodeConfig.from_toml(node_config))
    details: dict[str, object] = {
        "rows_read": drafted.rows_read,
        "bounded_columns": list(drafted.bounded_columns),
    }
    entry = or_fail(lambda: charge_release(node, DRAFT_BOUNDS, epsilon, data, details))
    left = entry.content["budget_remaining"]
    return f"{node.party}'s budget (ledger entry #{entry.seq}; {left:.4f} of its ε left)"


@schema_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Folder for the <document>.schema.json files.")] = Path(
        "schemas"
    ),
) -> None:
    """Write the JSON Schema of every configuration document, to complete and check TOML files.

    One schema per document (node, server, run, task, scoring config), for editors to complete and
    check TOML files with.
    """
    from fedscore.config_schemas import export_schemas

    try:
        written = export_schemas(out)
    except (FedscoreError, OSError) as error:
        fail(FedscoreError(str(error)))
    for path in written:
        console.print(f"wrote {path}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the `schema` commands to the `fedscore` command line."""
    app.add_typer(schema_app, name="schema")
