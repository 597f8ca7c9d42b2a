"""Reading a book of customers chunk by chunk: Parquet row batches, CSV blocks.

Only the columns scoring needs are read (the features, plus the columns passed
through to the output); memory stays bounded by the chunk size whatever the file's
length. CSV cells are read as text, as `fedscore.core.tabular.read_table` reads them,
so validation reports a wrong type with its row and column. Read errors name the
file (and the line, where the reader knows it), never a cell's content (nor the bytes
a file starts with: a `.csv.gz` that is no gzip file is said to be one).
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fedscore.core.errors import TableReadError
from fedscore.core.tabular import check_header, header_lines, table_format
from fedscore.core.text_encoding import not_utf8_message


@dataclass
class TableSource:
    """A CSV or Parquet file read in chunks.

    Attributes:
        path: the file.
        columns: the columns wanted (those absent from the file are skipped; validation
            reports the missing required ones).
        chunk_rows: rows per chunk (Parquet; CSV blocks hold about as many).
        header_lines: file lines before the first data row (1 for CSV, 0 for Parquet).
        total_rows: rows in the file when known before reading (Parquet), else None.
        total_bytes: the file's size (progress of CSV reading).
        present: the wanted columns the file has.
    """

    path: Path
    columns: list[str]
    chunk_rows: int = 65_536
    header_lines: int = field(init=False)
    total_rows: int | None = field(init=False, default=None)
    total_bytes: int = field(init=False)
    present: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.kind = table_format(self.path)
        if not self.path.is_file():
            raise TableReadError(f"{self.path}: no such file")
        self.total_bytes = self.path.stat().st_size
        self.header_lines = header_lines(self.path)
        header = self._parquet_header() if self.kind == "parquet" else self._csv_header()
        check_header(self.path, header)
        self.present = [c for c in self.columns if c in header]

    def _parquet_header(self) -> list[str]:
        try:
            # Buffered page-by-page reads: memory follows the batch, not the row group.
            self._parquet = pq.ParquetFile(self.path, buffer_size=1 << 20, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise TableReadError(f"{self.path}: not a readable Parquet file ({exc})") from exc
        self.total_rows = self._parquet.metadata.num_rows
        return list(self._parquet.schema_arrow.names)

    @property
    def _gzipped(self) -> bool:
        return self.path.name.lower().endswith(".gz")

    def _unreadable(self, exc: Exception) -> TableReadError:
        """The error of a file the reader cannot decompress or open (never its bytes)."""
        if self._gzipped:
            return TableReadError(
                f"{self.path}: not a readable gzip file; a .csv.gz must be gzip-compressed "
                "CSV (name a plain CSV file .csv)"
            )
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return TableReadError(f"{self.path}: cannot be read ({reason})")

    def _csv_header(self) -> list[str]:
        try:
            opener = gzip.open if self._gzipped else open
            with opener(self.path, "rt", encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError as exc:
            raise TableReadError(not_utf8_message(self.path)) from exc
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise self._unreadable(exc) from None
        except csv.Error as exc:
            raise TableReadError(f"{self.path}: malformed CSV header ({exc})") from None
        if not header:
            raise TableReadError(f"{self.path}: the file is empty (no header row)")
        if any(not name.strip() for name in header):
            raise TableReadError(f"{self.path}: the header has an empty column name")
        self._csv_columns = header
        return header

    def batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        """(chunk as Arrow read it, 1-based row number of its first row) over the whole file.

        Every chunk has the file's column types.
        """
        batches = self._parquet_batches() if self.kind == "parquet" else self._csv_batches()
        first = 1
        for batch in batches:
            if batch.num_rows == 0:
                continue
            yield batch, first
            first += batch.num_rows

    def chunks(self) -> Iterator[tuple[pd.DataFrame, int]]:
        """(chunk, 1-based row number of its first row) over the whole file."""
        for batch, first in self.batches():
            yield batch.to_pandas(), first

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._parquet.iter_batches(batch_size=self.chunk_rows, columns=self.present)
        except (pa.ArrowInvalid, OSError) as exc:
            raise TableReadError(f"{self.path}: not a readable Parquet file ({exc})") from exc

    def _csv_batches(self) -> Iterator[pa.RecordBatch]:
        bad_line: list[tuple[int | None, int, int]] = []

        def invalid_row(row: pacsv.InvalidRow) -> str:
            bad_line.append((row.number, row.expected_columns, row.actual_columns))
            return "error"

        # Text cells, ~chunk_rows rows per block (about 8 bytes per cell), one thread so
        # blocks come in order and invalid rows carry their line number.
        block = max(1 << 16, self.chunk_rows * len(self._csv_columns) * 8)
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=block, use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self._csv_columns},
                    include_columns=self.present,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from reader
        except pa.ArrowInvalid as exc:
            raise TableReadError(self._csv_problem(exc, bad_line)) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise self._unreadable(exc) from None

    def _csv_problem(
        self, exc: pa.ArrowInvalid, bad_line: list[tuple[int | None, int, int]]
    ) -> str:
        # Arrow's messages quote the offending row: report its structure only.
        if bad_line:
            number, expected, actual = bad_line[0]
            where = f"line {number}" if number is not None else "a row"
            return (
                f"{self.path}, {where}: malformed CSV: expected {expected} fields, found {actual}"
            )
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            return not_utf8_message(self.path)
        return f"{self.path}: malformed CSV ({str(exc).split(':')[0]})"
