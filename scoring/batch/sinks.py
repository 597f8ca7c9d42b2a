"""Writing scored rows chunk by chunk to a temporary file renamed into place at the end.

A failure (bad input found in a later chunk, an interruption, a file that cannot be
written) removes the temporary file: the output path holds either the complete result
or nothing. Write failures are `OutputWriteError`s naming the file and the reason.

Chunks are written by one background thread while the next is scored (Arrow's
writers release the GIL), one chunk at a time: a write waits for the previous one, so
memory holds at most two chunks' output, and a write error surfaces at the next write
or at the end.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fedscore.core.tabular import table_format
from fedscore.scoring.errors import OutputWriteError


def refuse_folder(path: Path, what: str) -> None:
    """Refuse an output path that is an existing folder.

    Args:
        path: where a file is to be written.
        what: what the file is ("output", "summary"), for the error.

    Raises:
        OutputWriteError: `path` is a folder.
    """
    if path.is_dir():
        raise OutputWriteError(f"{path}: is a folder; give the {what} a file name")


class TableSink:
    """An output file written in chunks, committed whole or not at all.

    Args:
        path: The output (.parquet, .csv or .csv.gz).
        metadata: Key/value metadata written into a Parquet file's schema (e.g. the model version).
    """

    def __init__(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        self.path = path
        self.kind = table_format(path)
        self.metadata = metadata or {}
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._stream: pa.CompressedOutputStream | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fedscore-sink")
        self._pending: Future[None] | None = None

    def __enter__(self) -> TableSink:
        refuse_folder(self.path, "output")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._cannot_write(exc) from None
        return self

    def write(self, table: pa.Table) -> None:
        """Append one chunk of scored rows (in the background, after the previous chunk).

        Raises:
            OutputWriteError: the previous chunk could not be written.
        """
        self._wait()
        self._pending = self._pool.submit(self._write_chunk, table)

    def _wait(self) -> None:
        """Wait for the chunk being written; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write_chunk(self, table: pa.Table) -> None:
        try:
            self._write(table)
        except OSError as exc:
            raise self._cannot_write(exc) from None

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            schema = (
                table.schema.with_metadata(self.metadata)
                if self.kind == "parquet"
                else table.schema
            )
            if self.kind == "parquet":
                # Dictionary pages for the dictionary-encoded columns only: a column of
                # distinct values (customer keys, probabilities) gains nothing from one.
                dictionary = [f.name for f in schema if pa.types.is_dictionary(f.type)]
                self._writer = pq.ParquetWriter(
                    self.tmp, schema, compression="zstd", use_dictionary=dictionary
                )
            else:
                target: str | pa.CompressedOutputStream = str(self.tmp)
                if self.path.name.endswith(".gz"):
                    self._stream = pa.CompressedOutputStream(str(self.tmp), "gzip")
                    target = self._stream
                self._writer = pacsv.CSVWriter(target, schema)
        if self.kind == "parquet":
            table = table.replace_schema_metadata(self.metadata)
        self._writer.write_table(table)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            try:
                self._wait()
            except OutputWriteError:
                if kind is None:
                    raise
            finally:
                self._pool.shutdown(wait=True)
            if self._writer is not None:
                self._writer.close()
            if self._stream is not None:
                self._stream.close()
            if kind is None and self._writer is not None:
                self.tmp.replace(self.path)
        except OSError as exc:
            if kind is None:
                raise self._cannot_write(exc) from None
        finally:
            self.tmp.unlink(missing_ok=True)

    def _cannot_write(self, exc: OSError) -> OutputWriteError:
        # Arrow's OSErrors carry no strerror; their text names the file and the cause.
        reason = exc.strerror or str(exc)
        return OutputWriteError(f"{self.path}: cannot be written ({reason}); nothing was kept")
