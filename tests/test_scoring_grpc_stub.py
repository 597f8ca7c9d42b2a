"""The hand-written type stubs of the generated gRPC modules name what those modules define."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each generated gRPC module (folder, module name) and the classes its stub declares.
GENERATED = [
    (ROOT / "scoring" / "grpc_api" / "generated", "scoring_pb2_grpc", "Scoring"),
    (ROOT / "vertical" / "scoring" / "generated", "vertical_scoring_pb2_grpc", "PartialScore"),
]


def _names(tree: ast.Module) -> dict[str, set[str]]:
    """Top-level function names (under "") and each class's method and attribute names."""
    names: dict[str, set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names[""].add(node.name)
        elif isinstance(node, ast.ClassDef):
            members = names.setdefault(node.name, set())
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef) and item.name != "__init__":
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
                elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
                    members.add(item.attr)
    return names


@pytest.mark.parametrize(("folder", "module_name", "service"), GENERATED)
def test_the_stub_matches_the_generated_grpc_module(folder, module_name, service):
    module = _names(ast.parse((folder / f"{module_name}.py").read_text(encoding="utf-8")))
    stub = _names(ast.parse((folder / f"{module_name}.pyi").read_text(encoding="utf-8")))
    assert stub[""] == module[""]
    for name in (f"{service}Stub", f"{service}Servicer"):
        assert stub[name] == module[name], name
