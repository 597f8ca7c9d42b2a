"""The hand-written type stub of the generated gRPC module names what that module defines."""

from __future__ import annotations

import ast
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "scoring" / "grpc_api" / "generated"


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


def test_the_stub_matches_the_generated_grpc_module():
    module = _names(ast.parse((GENERATED / "scoring_pb2_grpc.py").read_text(encoding="utf-8")))
    stub = _names(ast.parse((GENERATED / "scoring_pb2_grpc.pyi").read_text(encoding="utf-8")))
    assert stub[""] == module[""]
    for name in ("ScoringStub", "ScoringServicer"):
        assert stub[name] == module[name], name
