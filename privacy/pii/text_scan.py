"""Scanning texts, bytes and files for personal information: counts, never values.

Hexadecimal digests (hashes, pseudonyms, key ids) are masked first; of a PNG image,
only the text its chunks carry is scanned, never the compressed pixels.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from fedscore.privacy.pii.registry import Detector, resolve_detectors

# A run of 32+ hexadecimal characters with at least one letter is a digest (SHA-256,
# pseudonym, key id), not an identifier: a SHA-256 in hex holds a run of 11 decimal
# digits starting 13–19 about once in 300 hashes, which would read as a mobile number.
_HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")


def mask_digests(text: str) -> str:
    """`text` with every hexadecimal digest replaced by as many "#" (offsets unchanged)."""
    return _HEX_DIGEST.sub(lambda match: "#" * len(match.group()), text)


def scan_text(text: str, detectors: Iterable[Detector | str] | None = None) -> dict[str, int]:
    """How many matches of each detector a text holds; detectors without a match are left out.

    Hexadecimal digests are skipped (see `mask_digests`).

    Args:
        text: any text, e.g. a message or a decoded file.
        detectors: detectors or registry names to run; None for all registered ones.
    """
    text = mask_digests(text)
    counts: dict[str, int] = {}
    for detector in resolve_detectors(detectors):
        found = detector.count(text)
        if found:
            counts[detector.name] = found
    return counts


def scan_bytes(
    data: bytes,
    detectors: Iterable[Detector | str] | None = None,
    encoding: str = "utf-8",
) -> dict[str, int]:
    """`scan_text` of raw bytes (a file, a message), decoded leniently.

    Args:
        data: the bytes.
        detectors: detectors or registry names to run; None for all registered ones.
        encoding: how the bytes are encoded; undecodable bytes are dropped. Pass
            "gb18030" for GBK/GB 18030 files: decoded as UTF-8, their Chinese keywords
            are lost (digits and e-mail addresses survive).
    """
    return scan_text(bytes(data).decode(encoding, errors="ignore"), detectors)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_text(data: bytes) -> str:
    """The text a PNG image carries: its tEXt, zTXt and iTXt chunks, one per line.

    The pixel data is compressed and holds no text; searching it with the detectors
    finds random look-alikes (an "x@y.ab" turns up in about one plot in a few
    hundred), so it is left out.

    Args:
        data: the whole PNG file.

    Raises:
        ValueError: `data` is not a well-formed PNG file.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file (signature missing)")
    texts: list[str] = []
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise ValueError(f"PNG chunk {kind!r} at byte {offset} is truncated")
        if kind == b"tEXt":
            texts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            keyword, _, rest = body.partition(b"\0")
            texts.append(
                keyword.decode("latin-1") + "\0" + zlib.decompress(rest[1:]).decode("latin-1")
            )
        elif kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            if compressed:
                text = zlib.decompress(text)
            texts.append(keyword.decode("latin-1") + "\0" + text.decode("utf-8", errors="ignore"))
        offset += 12 + length
    return "\n".join(texts)


def scan_file(
    path: Path | str, detectors: Iterable[Detector | str] | None = None
) -> dict[str, int]:
    """`scan_bytes` of a file's contents; of a PNG image, only the text it carries (`png_text`).

    Args:
        path: the file.
        detectors: detectors or registry names to run; None for all registered ones.
    """
    data = Path(path).read_bytes()
    if data.startswith(_PNG_SIGNATURE):
        return scan_text(png_text(data), detectors)
    return scan_bytes(data, detectors)
