"""Reading a party's raw table from CSV or Parquet, exactly as the file holds it."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fedscore.core.errors import TableReadError
from fedscore.core.printable import has_control_characters
from fedscore.core.text_encoding import not_utf8_message, open_table_bytes

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def table_format(path: Path) -> str:
    """The format of a table file by its suffix: "csv" (.csv, .csv.gz) or "parquet".

    Raises:
        TableReadError: any other suffix.
    """
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    raise TableReadError(
        f"{path}: unsupported file type; use one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


def header_lines(path: Path) -> int:
    """How many file lines precede the first data row (to turn rows into line numbers).

    0 when rows are not lines: not a CSV, or a CSV whose rows do not each fill one line
    (a quoted field holding a line break, or blank lines the reader skips), so that a
    message names the row alone rather than a wrong line.
    """
    if table_format(path) != "csv":
        return 0
    return 1 if _one_line_per_row(path) else 0


def _one_line_per_row(path: Path) -> bool:
    """Whether every line after the header is exactly one data row."""
    if not _may_span_lines(path):
        return True
    try:
        with (
            open_table_bytes(path) as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle,
        ):
            reader = csv.reader(handle)
            blank_before = False
            for records, row in enumerate(reader, start=1):
                if reader.line_num != records or (row and blank_before):
                    return False
                blank_before = blank_before or not row
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        return True  # the file's own read reports what is wrong with it
    return True


def _may_span_lines(path: Path, chunk_bytes: int = 1 << 20) -> bool:
    """Whether the file holds a quote or a blank line (bytes only: no parsing)."""
    previous = b""
    try:
        with open_table_bytes(path) as handle:
            while chunk := handle.read(chunk_bytes):
                window = previous + chunk
                if b'"' in chunk or b"\n\n" in window or b"\n\r\n" in window:
                    return True
                previous = window[-2:]
    except (OSError, EOFError):
        return False
    return False


def read_table(path: str | Path, max_rows: int | None = None) -> pd.DataFrame:
    """Load a table with every cell as text (CSV) or as stored (Parquet).

    Cells are not converted here: validation converts each column by its schema
    role, so a wrong type is reported with its row and column.

    Args:
        path: the CSV (.csv, .csv.gz) or Parquet file.
        max_rows: read only the first this many data rows (None: all of them).
    """
    path = Path(path)
    kind = table_format(path)
    if not path.is_file():
        raise TableReadError(f"{path}: no such file")
    if kind == "csv":
        frame = _read_csv(path, max_rows)
        check_header(path, _raw_csv_header(path))
        return frame
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        check_header(path, list(schema.names))
        if max_rows is None:
            whole: pd.DataFrame = pq.read_table(path).to_pandas()
            return whole
        # The first batch of rows, with the file's schema (and so its pandas metadata).
        batch = next(parquet.iter_batches(batch_size=max(max_rows, 1)), None)
        rows = schema.empty_table() if batch is None else pa.Table.from_batches([batch], schema)
        head: pd.DataFrame = rows.slice(0, max_rows).to_pandas()
        return head
    except (pa.ArrowInvalid, OSError) as exc:
        raise TableReadError(f"{path}: not a readable Parquet file ({exc})") from exc


def check_header(path: Path, names: list[str]) -> None:
    """Refuse a header that is not names: personal data, control characters, a repeated name.

    A file exported without its header row has a customer's record where the names
    belong; every message and drafted schema that names a column would then carry that
    customer's resident ID or mobile number. Such a header is refused naming only the
    column's position and what it looks like.

    Args:
        path: the table's file (named in the error).
        names: its column names as the file holds them, in order.

    Raises:
        TableReadError: a name holds personal information or control characters, or two
            columns share a name.
    """
    from fedscore.privacy.pii.text_scan import scan_text

    for position, name in enumerate(names, start=1):
        if has_control_characters(str(name)):
            raise TableReadError(
                f"{path}: header column {position}'s name holds control or text-direction "
                "characters (a line break, an escape sequence): a name that could forge or "
                "hide lines in logs and messages; rename the column"
            )
        found = scan_text(str(name))
        if found:
            raise TableReadError(
                f"{path}: header column {position} holds personal information "
                f"({', '.join(sorted(found))}), not a column name; is the header row missing? "
                "The first row of a table must name its columns"
            )
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        seen.setdefault(str(name), []).append(position)
    repeated = {name: places for name, places in seen.items() if len(places) > 1}
    if repeated:
        name, places = next(iter(repeated.items()))
        raise TableReadError(
            f"{path}: the header names column '{name}' {len(places)} times (columns "
            f"{', '.join(map(str, places))}); give each column its own name"
        )


def _raw_csv_header(path: Path) -> list[str]:
    """The CSV's header row as written (pandas renames a repeated name to 'name.1')."""
    # utf-8-sig: the byte-order mark Excel writes is not part of the first name.
    first = pd.read_csv(
        path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    return [str(name) for name in first.iloc[0].tolist()] if len(first) else []


def _read_csv(path: Path, max_rows: int | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            encoding="utf-8",
            nrows=max_rows,
        )
    except pd.errors.EmptyDataError as exc:
        raise TableReadError(f"{path}: the file is empty (no header row)") from exc
    except pd.errors.ParserError as exc:
        raise TableReadError(f"{path}: malformed CSV: {_ragged_row_hint(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise TableReadError(not_utf8_message(path)) from exc
    except csv.Error as exc:
        raise TableReadError(f"{path}: malformed CSV: {exc}") from exc
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise TableReadError(f"{path}: the header has {len(unnamed)} empty column name(s)")
    return frame


def _ragged_row_hint(exc: Exception) -> str:
    # pandas' tokenizer message says "Expected N fields in line L, saw M" — keep the
    # structure, which holds no cell value.
    return str(exc).replace("Error tokenizing data. C error: ", "").strip()


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Content hash of a data file; it identifies the data version a budget is spent on."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    if table_format(path) == "csv":
        frame.to_csv(tmp, index=False, compression="gzip" if path.name.endswith(".gz") else None)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(path)
