"""Shared fixtures: the bundled task schema and small, real party tables from the demo split."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from filelock import FileLock
from table_support import MINIMAL_SCHEMA, granted_consent

from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.tabular import write_table
from fedscore.datasets.market import default_task_path, split_market
from fedscore.demo.identities import IdentifiedMarket, add_identities
from fedscore.privacy.keys import KeyRing

#: Fixtures that run Flower's simulation engine: a test using one is marked `simulation`.
SIMULATION_FIXTURES = frozenset({"trained_consortium"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need a simulation, then put the `slow`/`simulation` ones first.

    `make test` hands whole files (or classes) to two workers in collection order (`--dist
    loadscope --no-loadscope-reorder`); starting with the long files keeps one worker from finishing
    them alone at the end. `make test-fast` leaves them out (`-m "not slow and not simulation"`).
    """

    for item in items:
        if SIMULATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.simulation)

    def order(item: pytest.Item) -> tuple[bool, float]:
        late = not any(item.get_closest_marker(name) for name in ("slow", "simulation"))
        return late, -LONGEST_SCOPES.get(_scope(item), 0.0)

    items.sort(key=order)  # stable: the order within a file and among the rest is kept


#: Seconds the longest test files (or notebook classes) took in a clean-clone `make test`
#: (3 workers, 2 cores, 2026-11-30). The workers take scopes in order, so the longest go
#: first: a long one started last would leave one worker finishing it alone.
LONGEST_SCOPES = {
    "test_deployment.py": 206.0,
    "test_audit_report.py": 143.0,
    "test_flwr_run.py": 120.0,
    "test_notebooks.py::Test_04_model_owner": 101.0,
    "test_crash_consistency.py": 86.0,
    "test_notebooks.py::Test_03_compliance_audit": 71.0,
    "test_preflight.py": 66.0,
    "test_secure_aggregation.py": 52.0,
    "test_nothing_leaves.py": 51.0,
    "test_train_cli.py": 46.0,
    "test_vertical_deployment.py": 44.0,
    "test_bring_your_own_data.py": 42.0,
    "test_notebooks.py::Test_05_risk_operations": 41.0,
    "test_vertical_run.py": 39.0,
    "test_simulation.py": 35.0,
    "test_notebooks.py::Test_02_node_operator": 34.0,
    "test_notebooks.py::Test_07_book_monitoring": 32.0,
    "test_notebooks.py::Test_01_quickstart": 32.0,
    "test_pii_detectors.py": 29.0,
    "test_notebooks.py::Test_06_vertical_joint_risk": 27.0,
    "test_canary_audit.py": 22.0,
}


def _scope(item: pytest.Item) -> str:
    """The file (and class, for the notebooks) `--dist loadscope` hands out as one."""
    name = Path(str(item.path)).name
    return (
        f"{name}::{item.cls.__name__}"
        if item.cls is not None and name == "test_notebooks.py"
        else name
    )


@pytest.fixture(scope="session")
def minimal_schema() -> str:
    """The smallest valid task schema (TOML text): key, label, one feature."""
    return MINIMAL_SCHEMA


@pytest.fixture(scope="session")
def schema() -> TaskSchema:
    return load_schema(default_task_path())


@pytest.fixture(scope="session")
def market() -> IdentifiedMarket:
    """The demo institutions' tables with their (synthetic) identities and consent records."""
    return add_identities(split_market())


@pytest.fixture()
def party_table(market) -> pd.DataFrame:
    """3,500 real rows of the large bank (enough to reach k = 5), as the bank holds them."""
    return market.parties["large_bank"].head(3500).copy()


@pytest.fixture(scope="session")
def make_node():
    """Factory writing an institution folder with its table and node config."""
    return write_node


def write_node(
    home: Path,
    name: str,
    table: pd.DataFrame,
    max_epsilon: float = 5.0,
    allow_non_private: bool = False,
    consent: pd.DataFrame | None = None,
    capture_outgoing: bool = False,
) -> Path:
    """An institution folder: table, consent records (all granted unless given), keys, config.

    Returns the node config's path.
    """
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_table(table, home / "data" / "customers.csv")
    if consent is None:
        consent = granted_consent(table)
    write_table(consent, home / "data" / "consent.csv")
    keys = KeyRing(home / "keys", "credit_risk_scoring")
    if not keys.exists():
        keys.init(name)
    config = home / "node.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "node": {"party": name, "data": "data/customers.csv", "state_dir": "state"},
                "privacy": {"max_epsilon": max_epsilon, "allow_non_private": allow_non_private},
                "deidentification": {"key_dir": "keys", "consent_table": "data/consent.csv"},
                "audit": {"capture_outgoing": capture_outgoing},
            }
        ),
        encoding="utf-8",
    )
    return config


def run_fedscore(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`fedscore ARGS...` in a new process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "fedscore.cli.main", *args],
        cwd=cwd,
        env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def fedscore_cli():
    """`run_fedscore`: the command line in a new process."""
    return run_fedscore


#: The consortium `trained_consortium` trains; after its run, the facilitator's budget
#: (1.15) cannot afford a round of a second, overlapping run (`OVERLAPPING_RUN`).
CONSORTIUM_BUDGETS = {"large_bank": 5.0, "city_bank": 5.0, "loan_facilitator": 1.15}
OVERLAPPING_RUN = "overlapping-run"


@dataclass(frozen=True)
class TrainedConsortium:
    """Three institutions after one real two-round run, and the model owner's run directory.

    Attributes:
        root: the folder holding everything (institution folders, work/, keys).
        nodes: each institution's node.toml.
        test: the consortium test table.
        run_dir: the run directory.
        keys: the consortium's ledger key list.
        stderr: what `fedscore train` printed.
    """

    root: Path
    nodes: tuple[Path, ...]
    test: Path
    run_dir: Path
    keys: Path
    stderr: str

    def copy_to(self, destination: Path) -> TrainedConsortium:
        """A private copy (for tests that tamper with it); paths inside are relative."""
        shutil.copytree(self.root, destination, dirs_exist_ok=True)

        def moved(path: Path) -> Path:
            return destination / path.relative_to(self.root)

        return TrainedConsortium(
            destination,
            tuple(moved(n) for n in self.nodes),
            moved(self.test),
            moved(self.run_dir),
            moved(self.keys),
            self.stderr,
        )


@pytest.fixture(scope="session")
def trained_consortium(tmp_path_factory, worker_id, market) -> TrainedConsortium:
    """One real `fedscore train` run (2 rounds, epsilon 1) of three institutions; read-only:
    tests that change it work on `copy_to(tmp_path)`.

    Trained once per `make test`, not once per worker: the first worker to ask trains it in
    the run's shared temporary folder (under a file lock), the other reuses it.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    root = shared / "trained-consortium"
    with FileLock(str(shared / "trained-consortium.lock")):
        if not (root / "stderr.txt").is_file():
            _train_consortium(root, market)
    nodes = tuple(root / name / "node.toml" for name in CONSORTIUM_BUDGETS)
    (run_dir,) = (root / "work" / "runs").iterdir()
    stderr = (root / "stderr.txt").read_text(encoding="utf-8")
    return TrainedConsortium(
        root, nodes, root / "consortium_test.csv", run_dir, root / "consortium_keys.toml", stderr
    )


def _train_consortium(root: Path, market: IdentifiedMarket) -> None:
    """Write the three institutions under `root` and run `fedscore train` on them."""
    root.mkdir(parents=True)
    nodes = tuple(
        write_node(root / name, name, market.parties[name].head(3000), max_epsilon=budget)
        for name, budget in CONSORTIUM_BUDGETS.items()
    )
    test = root / "consortium_test.csv"
    write_table(market.consortium_test.head(1500), test)
    args = ["train", "--rounds", "2", "--epsilon", "1.0", "--test", str(test)]
    args += ["--workdir", str(root / "work")]
    for node in nodes:
        args += ["--node", str(node)]
    result = run_fedscore(*args, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (root / "work" / "runs").iterdir()
    _refused_overlapping_round(nodes[-1], run_dir)
    keys = root / "consortium_keys.toml"
    keys.write_text(
        tomli_w.dumps(
            {
                "ledger_keys": {
                    name: (root / name / "keys" / "ledger" / "ed25519.pub").read_text().strip()
                    for name in CONSORTIUM_BUDGETS
                }
            }
        ),
        encoding="utf-8",
    )
    (root / "stderr.txt").write_text(result.stderr, encoding="utf-8")  # written last: done


def _refused_overlapping_round(node_config: Path, run_dir: Path) -> None:
    """A round of another run reaches the facilitator after the fixture's run spent most of
    its budget (two runs that passed their checks before round 1 while neither had spent
    anything): the node refuses it, records and ledgers the refusal, spends nothing."""
    from flwr.app import ArrayRecord, ConfigRecord

    from fedscore.clients.node import NodeConfig
    from fedscore.clients.rounds import train_round
    from fedscore.core import protocol
    from fedscore.core.artifact import load_model
    from fedscore.core.runconfig import RunConfig

    node = NodeConfig.from_toml(node_config)
    schema = load_schema(node.task_path)
    run = RunConfig(rounds=2, epsilon=1.0)
    config = ConfigRecord(
        {
            **run.to_flower(),
            protocol.RUN_ID: OVERLAPPING_RUN,
            protocol.SERVER_ROUND: 1,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
        }
    )
    arrays = ArrayRecord(load_model(run_dir).model.state_dict())
    reply = train_round(node, arrays, config)
    assert reply.config_records[protocol.PARTY][protocol.STATUS] == protocol.REFUSED


#: Headless Chromium as this machine runs it: no sandbox as root, and no background
#: connections (the network is closed; they would fail noisily).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(url: str | Path) -> Iterator[tuple[object, list[str]]]:
    """A page of headless Debian Chromium showing `url` (a file path or http URL), and the
    list of problems it reports: console errors and warnings, page errors, failed requests."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("FEDSCORE_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).is_file():
        pytest.fail(f"Chromium not found at {executable}: `make browser` installs Debian's")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console {message.type}: {message.text}")
                    if message.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
            target = url if isinstance(url, str) else Path(url).resolve().as_uri()
            page.goto(target, wait_until="load")
            yield page, problems
        finally:
            browser.close()


@pytest.fixture(scope="session")
def open_in_chromium():
    """`chromium_page`: open a page in headless Chromium and collect what goes wrong."""
    return chromium_page
