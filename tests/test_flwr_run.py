"""`flwr run .` runs the default app offline on Flower's managed local SuperLink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import tomli_w

from fedscore.core.runconfig import RunConfig
from fedscore.datasets import default_task_path
from fedscore.demo import prepare_demo
from fedscore.server.settings import ServerSettings

pytestmark = pytest.mark.simulation
PROJECT = Path(__file__).parent.parent


def _stop_local_superlink(flwr_home: Path) -> None:
    """Flower leaves its managed SuperLink and SuperExec running: stop the ones we started."""
    started = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(str(flwr_home) in part for part in (p.info["cmdline"] or []))
    ]
    children = [c for p in started for c in p.children(recursive=True)]
    for process in [*children, *started]:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs([*children, *started], timeout=10)


def test_flwr_run_trains_the_demo_federation(tmp_path):
    federation = prepare_demo(tmp_path / "demo")
    flwr_home = tmp_path / "flwr-home"
    env = {
        **os.environ,
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        # As the guide says: the app runs in this environment, where fedscore is installed,
        # not in a fresh one Flower fills with `uv sync` (about 20 s more, mostly imports).
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    # The demo's nodes train only for runs their model owner signed. Aggregation in the
    # clear: SecAgg+ is tested in simulation by test_secure_aggregation.py and deployed by
    # the node-death test of test_deployment.py; this test is about `flwr run .` itself.
    settings = ServerSettings.new_run(
        RunConfig(rounds=1, secure_aggregation=False),
        default_task_path(),
        federation.runs_dir,
        expected_parties=3,
        consortium_test_path=federation.consortium_test,
    ).signed_by(federation.owner)
    run_config = tmp_path / "run-config.toml"
    run_config.write_text(
        tomli_w.dumps(
            {
                "run-request": settings.run_request,
                "federation-manifest": str(federation.manifest_path),
            }
        ),
        encoding="utf-8",
    )
    try:
        result = subprocess.run(
            [
                "flwr",
                "run",
                ".",
                "--stream",
                "--run-config",
                str(run_config),
                "--federation-config",
                "num-supernodes=3",
            ],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
    finally:
        _stop_local_superlink(flwr_home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = federation.runs_dir.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == 1 and len(summary["parties"]) == 3
    assert summary["verdict"]["ok"] and not summary["secure_aggregation"]
    assert all(p["epsilon"] <= 1.0 for p in summary["parties"].values())
