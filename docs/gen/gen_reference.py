"""mkdocs-gen-files script: writes the generated reference pages at every build.

The pages come from `reference_pages.py` beside this file: the CLI reference from the
live Typer app, the task schema and configuration references from the live pydantic
models. Nothing generated is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_pages  # found through the line above

for page, text in reference_pages.pages().items():
    with mkdocs_gen_files.open(page, "w") as file:
        file.write(text)
