"""The walkthrough notebooks run top to bottom (each user's first contact with fedscore)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.simulation


def _executes(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    # Errors are collected rather than raised at the first one, so that a failure names
    # every cell that broke and what it raised.
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [
        f"cell {index}: {output['ename']}: {output['evalue']}"
        for index, cell in enumerate(code_cells)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"{path.name} raised in " + "; ".join(errors)
    assert all(cell.get("execution_count") for cell in code_cells), "a code cell did not run"


class _Notebook:
    """One notebook; a class each, so that `--dist loadscope` hands them out one by one."""

    path: Path

    def test_executes(self, tmp_path):
        _executes(self.path, tmp_path)


for _path in NOTEBOOKS:
    _name = f"Test_{_path.stem}"
    globals()[_name] = type(_name, (_Notebook,), {"path": _path})
