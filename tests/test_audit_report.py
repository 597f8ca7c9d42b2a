"""`fedscore audit report`: a compliance report built only from verified evidence.

Built from a real two-round run of three institutions (see `trained_consortium`): the
JSON covers every party's spend, refusals, de-identification and consent; the HTML page
loads in headless Chromium without a console error and shows each party's figures;
a tampered or truncated ledger turns the verdict to FAILED; bad input stops with a
clear message and leaves no report behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from fedscore.clients.node import NodeConfig

#: The run `trained_consortium` has the facilitator refuse after its own (see conftest.py).
OVERLAPPING_RUN = "overlapping-run"

pytestmark = pytest.mark.simulation
PARTIES = ("city_bank", "large_bank", "loan_facilitator")


def _strict_json(path: Path) -> dict:
    def reject(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}: not strict JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


@pytest.fixture(scope="module")
def audited(trained_consortium, fedscore_cli, tmp_path_factory):
    """The consortium's report, written once for the read-only tests."""
    out = tmp_path_factory.mktemp("audit")
    result = fedscore_cli(
        "audit",
        "report",
        *(str(node.parent) for node in trained_consortium.nodes),
        str(trained_consortium.run_dir),
        "--keys",
        str(trained_consortium.keys),
        "--out",
        str(out),
        cwd=trained_consortium.root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stderr


def test_the_report_covers_every_party_from_verified_evidence(audited, trained_consortium):
    out, printed = audited
    report = _strict_json(out / "audit_report.json")
    assert "VERIFIED" in printed
    verification = report["verification"]
    assert verification["ok"] and report["findings"] == []
    assert verification["key_list"] == str(trained_consortium.keys)
    for party in PARTIES:
        ledger = verification["ledgers"][party]
        entries = 3 if party == "loan_facilitator" else 2  # + the overlapping run's refusal
        assert ledger["ok"] and ledger["entries"] == entries and ledger["signature_checks"] == 1
        assert "consortium key list" in ledger["key_source"]
    (run,) = report["runs"]
    assert verification["runs"][run["run_id"]]["verified_heads"] == dict.fromkeys(PARTIES, 2)
    assert run["consortium_test"]["auc"] > 0.65 and run["private"] is True

    summary = json.loads((trained_consortium.run_dir / "summary.json").read_text())
    for party in PARTIES:
        view = report["parties"][party]
        (version,) = view["data_versions"]
        ours = [r for r in view["rounds"] if r["run_id"] == run["run_id"]]
        assert [r["server_round"] for r in ours] == [1, 2]
        assert all(r["epsilon_prv"] is None or r["epsilon_prv"] > 0 for r in view["rounds"])
        assert version["budget_used"] == pytest.approx(summary["parties"][party]["epsilon"])
        assert version["budget_used"] + version["budget_remaining"] == pytest.approx(
            version["max_epsilon"]
        )
        assert version["mechanism"]["sampler"] == "poisson"
        assert version["mechanism"]["noise_multiplier"] > 0
        (deid,) = (d for d in view["deidentification"] if d["run_id"] == run["run_id"])
        assert deid["verified"] and deid["k_achieved"] >= deid["k_min"] == 5
        assert (
            deid["report_sha256"] == summary["parties"][party]["deidentification"]["report_sha256"]
        )
        assert view["consent"]["valid"] == deid["consent"]["valid"] > 0

    facilitator = report["parties"]["loan_facilitator"]
    assert [r["status"] for r in facilitator["rounds"]] == ["trained", "trained", "refused"]
    (refused,) = facilitator["refused"]
    assert refused["run_id"] == OVERLAPPING_RUN and "max_epsilon 1.15" in refused["reason"]
    assert facilitator["data_versions"][0]["budget_used"] <= 1.15

    shared = report["shared_customers"]
    everyone = next(c for c in shared["combinations"] if len(c["parties"]) == 3)
    lifetime = sum(report["parties"][p]["lifetime_epsilon"] for p in PARTIES)
    assert everyone["epsilon"] == pytest.approx(lifetime)
    assert shared["worst_case"]["parties"] == sorted(PARTIES)
    assert len(shared["combinations"]) == 4  # three pairs and all three
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["budget.png", *(f"epsilon_{p}.png" for p in PARTIES)]


def test_the_report_renders_in_headless_chromium(audited, open_in_chromium):
    out, _ = audited
    with open_in_chromium(out / "audit_report.html") as (page, problems):
        assert page.inner_text("#verdict").startswith("VERIFIED")
        for party in PARTIES:
            section = page.locator(f"#party-{party}")
            assert section.is_visible()
            assert party in section.inner_text()
            image = section.locator("img")
            assert image.count() == 1
            assert image.evaluate("img => img.complete && img.naturalWidth > 400")
            assert section.locator("table").count() >= 2
        assert page.locator("#budget img").evaluate("img => img.naturalWidth > 400")
        worst = page.inner_text("#worst-case")
        assert all(party in worst for party in PARTIES)
    assert problems == []


def test_a_tampered_ledger_fails_the_audit(tmp_path, trained_consortium, fedscore_cli):
    consortium = trained_consortium.copy_to(tmp_path / "consortium")
    bank = NodeConfig.from_toml(consortium.root / "large_bank" / "node.toml")
    # A bank hides spend: its second entry now claims less epsilon than it spent.
    with sqlite3.connect(bank.accountant_db) as db:
        db.execute(
            "UPDATE ledger SET content = json_set(content, '$.epsilon_rdp', 0.01) WHERE seq = 1"
        )
    out = tmp_path / "audit"
    result = fedscore_cli(
        "audit",
        "report",
        str(consortium.root / "large_bank"),
        str(consortium.root / "city_bank"),
        str(consortium.run_dir),
        "--keys",
        str(consortium.keys),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "FAILED" in result.stderr
    report = _strict_json(out / "audit_report.json")
    assert not report["verification"]["ok"]
    ledger = report["verification"]["ledgers"]["large_bank"]
    assert not ledger["ok"] and ledger["first_broken"] == 1
    assert report["verification"]["ledgers"]["city_bank"]["ok"]
    messages = [f["message"] for f in report["findings"] if f["severity"] == "failure"]
    assert any("FAILED verification at entry #1" in m for m in messages)
    # The accountant state still holds the true spend: it disagrees with the edited entry.
    assert any("the accountant state gives" in m for m in messages)
    page = (out / "audit_report.html").read_text(encoding="utf-8")
    assert 'class="verdict failed"' in page and "FAILED at entry #1" in page


def test_a_truncated_ledger_is_caught_without_the_server(
    tmp_path, trained_consortium, fedscore_cli
):
    consortium = trained_consortium.copy_to(tmp_path / "consortium")
    city = NodeConfig.from_toml(consortium.root / "city_bank" / "node.toml")
    with sqlite3.connect(city.accountant_db) as db:  # the last round's entry disappears
        db.execute("DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger)")
    out = tmp_path / "audit"
    node_only = fedscore_cli(
        "audit", "report", str(consortium.root / "city_bank"), "--keys", str(consortium.keys),
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert node_only.returncode == 1
    findings = _strict_json(out / "audit_report.json")["findings"]
    assert any("accountant state gives" in f["message"] for f in findings)
    with_run = fedscore_cli(
        "audit", "report", str(consortium.root / "city_bank"), str(consortium.run_dir),
        "--keys", str(consortium.keys), "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert with_run.returncode == 1
    findings = _strict_json(out / "audit_report.json")["findings"]
    assert any("entries were removed from its end" in f["message"] for f in findings)


def test_bad_input_names_the_file_and_writes_nothing(tmp_path, trained_consortium, fedscore_cli):
    consortium = trained_consortium.copy_to(tmp_path / "consortium")
    summary = consortium.run_dir / "summary.json"
    summary.write_text(summary.read_text()[:200], encoding="utf-8")
    out = tmp_path / "audit"
    result = fedscore_cli(
        "audit", "report", str(consortium.root / "city_bank"), str(consortium.run_dir),
        "--keys", str(consortium.keys), "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{summary}: not valid JSON" in result.stderr
    assert not out.exists() or not any(out.iterdir())

    unknown = fedscore_cli(
        "audit", "report", str(tmp_path), "--keys", str(consortium.keys), "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert unknown.returncode == 2 and "not an institution folder" in unknown.stderr

    keys = tmp_path / "keys.toml"
    keys.write_text('[ledger_keys]\ncity_bank = "00"\n', encoding="utf-8")
    wrong = fedscore_cli(
        "audit", "report", str(consortium.root / "large_bank"), "--keys", str(keys),
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert wrong.returncode == 2 and "not an Ed25519 public key" in wrong.stderr
    assert not any(out.iterdir()) if out.exists() else True
    assert os.listdir(tmp_path / "consortium")  # the evidence itself is untouched


#: A run directory is the coordinator's and the model owner's, not the auditor's: each of
#: these ended `audit report` in a traceback (TypeError, AttributeError, ValueError).
HOSTILE_RUN_FILES = {
    "heads not a list per party": (
        "ledger_heads.json",
        lambda d: {**d, "city_bank": 5},
        2,
        "ledger_heads.json: not a ledger-heads file (a list of heads per party)",
    ),
    "a head of another shape": (
        "ledger_heads.json",
        lambda d: {**d, "city_bank": [{**d["city_bank"][0], "seq": "x"}, *d["city_bank"][1:]]},
        1,
        "city_bank: signed head #1 is malformed (ledger head: 'seq' must be int, not str)",
    ),
    "parties not an object": (
        "summary.json",
        lambda d: {**d, "parties": [1]},
        2,
        "summary.json: not a run summary fedscore wrote (parties: Input should be a valid "
        "dictionary)",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_RUN_FILES)
def test_a_run_directory_of_another_shape_is_reported_not_a_traceback(
    tmp_path, trained_consortium, fedscore_cli, case
):
    name, change, status, message = HOSTILE_RUN_FILES[case]
    consortium = trained_consortium.copy_to(tmp_path / "consortium")
    path = consortium.run_dir / name
    path.write_text(json.dumps(change(json.loads(path.read_text()))), encoding="utf-8")
    out = tmp_path / "audit"
    result = fedscore_cli(
        "audit", "report", str(consortium.root / "city_bank"), str(consortium.run_dir),
        "--keys", str(consortium.keys), "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == status and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr
