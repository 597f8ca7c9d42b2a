"""Writing the documents fedscore hands to people: strict JSON and self-contained HTML.

JSON holds no NaN/Infinity (a missing figure is null, an infinite epsilon "inf"), and
every file appears whole or not at all: a reader never sees a half-written file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.untrusted_documents import parse_toml


def json_safe(value: Any) -> Any:
    """Replace NaN by None and infinities by "inf"/"-inf", recursively."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` whole (see `write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as strict, indented JSON, atomically."""
    return write_text_atomic(
        path, json.dumps(json_safe(data), indent=2, ensure_ascii=False, allow_nan=False)
    )


def figure_html(path: Path, caption: str, figure_id: str = "") -> str:
    """An HTML figure with the PNG at `path` embedded as a data URI (no file to ship)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    ident = f' id="{html.escape(figure_id)}"' if figure_id else ""
    return (
        f'<figure{ident}><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's content.

    Args:
        path: the file.
        what: what the file is, for the error ("node config", "server config", ...).

    Raises:
        ConfigError: the file cannot be read or is not valid TOML.
    """
    try:
        return parse_toml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not valid TOML: {exc}") from exc
