"""The command line starts without the heavy libraries: each command imports its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "matplotlib", "opacus", "sklearn", "flwr", "faker")
GROUPS = (
    "demo", "train", "run", "runs", "stop", "serve", "score", "keys", "audit", "pki",
    "server", "node", "owner", "models", "release", "schema", "strategy", "decide", "monitor",
)  # fmt: skip

#: Runs the command line's --help in this process, then names the heavy modules loaded.
PROBE = """
import sys
import fedscore.cli.main as cli
if sys.argv[1:]:
    try:
        cli.app(sys.argv[1:], prog_name="fedscore")
    except SystemExit as done:
        assert done.code == 0, done.code
heavy = {heavy!r}
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""


def loaded_after(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The `heavy` modules loaded by importing the CLI and running it with `args`."""
    probe = PROBE.format(heavy=heavy)
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_importing_the_command_line_loads_no_heavy_library():
    assert loaded_after() == []


@pytest.mark.parametrize("group", GROUPS)
def test_a_groups_help_loads_no_heavy_library(group):
    assert loaded_after(group, "--help") == []


def test_fedscore_help_answers():
    result = subprocess.run(
        [sys.executable, "-m", "fedscore.cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for group in GROUPS:
        assert group in result.stdout
