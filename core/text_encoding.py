"""Where a file stops being UTF-8: the line and byte a re-export has to fix.

Decoders report an offset within whatever chunk they were given (pandas and Arrow read
in blocks), so their position is no help to the user. This finds the first byte that
is not UTF-8 in the file itself. Never the bytes: they are usually part of a name.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path
from typing import BinaryIO, cast

#: Bytes read at a time while looking for the first invalid sequence.
_CHUNK_BYTES = 1 << 20


def open_table_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when its name ends in `.gz`."""
    if path.name.lower().endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def first_non_utf8(path: Path, chunk_bytes: int = _CHUNK_BYTES) -> tuple[int, int] | None:
    """The 1-based line and the 0-based byte offset of the first non-UTF-8 byte.

    Args:
        path: the file (a `.gz` name is read decompressed; offsets are then within
            the decompressed text).
        chunk_bytes: bytes read at a time.

    Returns:
        None when the whole file is UTF-8 (or cannot be read: the caller's own read
        reports that).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    try:
        with open_table_bytes(path) as handle:
            while chunk := handle.read(chunk_bytes):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    # `exc.start` counts within the bytes this call saw: the carried-over
                    # tail of the previous chunk first, then `chunk`.
                    carried = len(exc.object) - len(chunk)
                    bad = offset - carried + exc.start
                    return line + exc.object[: exc.start].count(b"\n"), bad
                offset += len(chunk)
                line += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # the file ends inside a multi-byte sequence
        return line, offset - len(exc.object) + exc.start
    except (OSError, EOFError):
        return None
    return None


def not_utf8_message(path: Path) -> str:
    """The error for a table that is not UTF-8: where, and how to fix it."""
    where = first_non_utf8(path)
    position = f" (line {where[0]}, byte {where[1]} of the file)" if where else ""
    return (
        f"{path}: not UTF-8 text{position}; re-export the file as UTF-8 CSV "
        "(a GBK/GB18030 export: iconv -f GB18030 -t UTF-8)"
    )
