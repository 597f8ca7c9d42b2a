"""The node's on-disk cache of its de-identified, encoded table (clients/data_cache.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
from datetime import date

import numpy as np
import pandas as pd
import pytest

from fedscore.clients.data_cache import (
    PartyDataCache,
    entry_path,
    load_cached_party_data,
    read_entry,
)
from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds.context import NodeContext
from fedscore.clients.rounds.preflight import check_readiness
from fedscore.clients.staged_data_cache import StagedPartyDataCache
from fedscore.core.tabular import write_table
from fedscore.privacy.keys import KeyRing
from fedscore.privacy.pii import scan_file

AS_OF = date(2026, 6, 1)
PERSONAL_COLUMNS = ("customer_id", "name", "id_number", "mobile", "card_number")


class Counting:
    """`load_party_data`, counting its calls (the expensive step)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, node, schema, as_of=None) -> PartyData:
        self.calls += 1
        return load_party_data(node, schema, as_of)


@pytest.fixture()
def node(tmp_path, party_table, make_node) -> NodeConfig:
    return NodeConfig.from_toml(make_node(tmp_path / "bank", "bank", party_table))


def assert_same(cached: PartyData, fresh: PartyData) -> None:
    for name in ("train_x", "train_y", "valid_x", "valid_y"):
        a, b = getattr(cached, name), getattr(fresh, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
    assert cached.data_version == fresh.data_version
    assert cached.report.as_dict() == fresh.report.as_dict()
    assert cached.report.sha256() == fresh.report.sha256()


def withdraw(node: NodeConfig, customers: int) -> None:
    assert node.consent_table is not None
    consent = pd.read_csv(node.consent_table, dtype=str, keep_default_na=False)
    withdrawn = consent["customer_id"].head(customers)
    consent.loc[consent["customer_id"].isin(withdrawn), "withdrawn_at"] = "2026-01-01"
    write_table(consent, node.consent_table)


def test_second_load_hits_and_gives_the_same_arrays(node, schema):
    count = Counting()
    cold = PartyDataCache(compute=count)(node, schema, AS_OF)
    entry = entry_path(node, schema)
    before = entry.stat()
    warm = PartyDataCache(compute=count)(node, schema, AS_OF)  # a fresh process: from disk
    assert count.calls == 1
    after = entry.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    fresh = load_party_data(node, schema, AS_OF)
    assert_same(cold, fresh)
    assert_same(warm, fresh)
    assert warm.train_rows is None and cold.train_rows is None  # never stored


def test_remembering_cache_returns_the_same_object(node, schema):
    count = Counting()
    load = PartyDataCache(compute=count, remember=True)
    assert load(node, schema, AS_OF) is load(node, schema, AS_OF)
    assert count.calls == 1


def _edit_data_same_size(node: NodeConfig, schema) -> None:
    """Flip the label of the first row in place: same size, same modification time."""
    before = node.data_path.stat()
    lines = node.data_path.read_bytes().split(b"\n")
    lines[1] = lines[1][:-1] + (b"0" if lines[1].endswith(b"1") else b"1")
    node.data_path.write_bytes(b"\n".join(lines))
    assert node.data_path.stat().st_size == before.st_size
    os.utime(node.data_path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _rotate_key(node: NodeConfig, schema) -> None:
    KeyRing(node.keys, schema.purpose).rotate()


def _withdraw_consent(node: NodeConfig, schema) -> None:
    withdraw(node, 50)


@pytest.mark.parametrize(
    "change",
    [_edit_data_same_size, _rotate_key, _withdraw_consent],
    ids=["data-edited-same-size", "key-rotated", "consent-withdrawn"],
)
def test_a_changed_input_misses(node, schema, change):
    count = Counting()
    load = PartyDataCache(compute=count)
    first = load(node, schema, AS_OF)
    change(node, schema)
    second = load(node, schema, AS_OF)
    assert count.calls == 2
    assert_same(second, load_party_data(node, schema, AS_OF))
    assert second.report.sha256() != first.report.sha256()
    load(node, schema, AS_OF)
    assert count.calls == 2  # the replaced entry hits again


def test_schema_and_date_changes_miss(node, schema):
    count = Counting()
    load = PartyDataCache(compute=count)
    load(node, schema, AS_OF)
    load(node, schema, date(2026, 6, 2))  # consent evaluated the next day
    assert count.calls == 2
    rules = dataclasses.replace(schema.deidentification, rules_version="next")
    changed = dataclasses.replace(schema, deidentification=rules)
    assert load(node, changed, date(2026, 6, 2)).report.rules_version == "next"
    assert count.calls == 3
    other_file = dataclasses.replace(schema, sha256="0" * 64)
    load(node, other_file, date(2026, 6, 2))
    assert count.calls == 4


def test_withdrawal_takes_effect_on_the_next_load(node, schema):
    first = load_cached_party_data(node, schema)
    withdraw(node, 40)
    second = load_cached_party_data(node, schema)
    assert second.report.consent["withdrawn"] == 40
    assert second.report.rows["with_consent"] == first.report.rows["with_consent"] - 40
    assert len(second.train_y) + len(second.valid_y) < len(first.train_y) + len(first.valid_y)


def test_entries_are_owner_only_and_written_whole(node, schema):
    load_cached_party_data(node, schema)
    entry = entry_path(node, schema)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary file left


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "other-key"])
def test_an_unusable_entry_is_recomputed(node, schema, damage, caplog):
    count = Counting()
    load = PartyDataCache(compute=count)
    load(node, schema, AS_OF)
    entry = entry_path(node, schema)
    blob = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(blob[: len(blob) // 2])
    elif damage == "flipped":  # inside the training features: the zip CRC catches it
        middle = len(blob) // 2
        entry.write_bytes(blob[:middle] + bytes(b ^ 0xFF for b in blob[middle : middle + 64]))
    elif damage == "garbage":
        entry.write_bytes(b"not a cache entry")
    else:  # an entry recorded for other inputs (another consent date)
        PartyDataCache()(node, schema, date(2026, 6, 2))
    with caplog.at_level(logging.INFO, logger="fedscore.clients.data_cache"):
        data = load(node, schema, AS_OF)
    assert count.calls == 2
    assert str(entry) in caplog.text
    assert_same(data, load_party_data(node, schema, AS_OF))
    assert read_entry(entry, _recorded_key(entry)) is not None  # rewritten whole
    load(node, schema, AS_OF)
    assert count.calls == 2


def _recorded_key(entry) -> dict[str, str]:
    with np.load(entry, allow_pickle=False) as stored:
        return json.loads(stored["key"].tobytes().decode("utf-8"))


def test_an_entry_holds_no_personal_value(node, schema, party_table):
    load_cached_party_data(node, schema)
    entry = entry_path(node, schema)
    assert set(party_table.columns) >= set(PERSONAL_COLUMNS)
    with np.load(entry, allow_pickle=False) as stored:
        assert set(stored.files) == {"key", "report", "train_x", "train_y", "valid_x", "valid_y"}
        # Numbers only (the key and report as UTF-8 JSON bytes): no text array to hide in.
        assert all(stored[name].dtype.kind in "fiub" for name in stored.files)
        report = stored["report"].tobytes().decode("utf-8")
        assert '"rows"' in report  # the report's JSON is plain UTF-8, scanned below
    for path in entry.parent.iterdir():
        hits = scan_file(path)
        assert not any(hits.values()), f"{path}: PII detectors fired: {hits}"
        blob = path.read_bytes()
        personal = {
            str(value).encode("utf-8")
            for column in PERSONAL_COLUMNS
            for value in party_table[column]
            if len(str(value)) >= 6
        }
        assert personal
        leaked = [value for value in personal if value in blob]
        assert not leaked, f"{path}: {len(leaked)} raw personal value(s) found"
        names = {str(value).encode("utf-8") for value in party_table["name"]}
        assert not [value for value in names if value in blob]


def test_nodes_and_the_pre_round_check_load_through_the_cache(node, schema):
    assert NodeContext(node).load_data is load_cached_party_data
    defaults = check_readiness.__defaults__
    assert defaults is not None and load_cached_party_data in defaults


def test_the_pre_round_check_stages_entries_until_every_party_is_ready(node, schema):
    with StagedPartyDataCache() as staged:
        cold = staged(node, schema, AS_OF)
    assert not node.state_dir.exists()  # a run that cannot start writes nothing there
    with StagedPartyDataCache() as staged:
        staged(node, schema, AS_OF)
        staged.commit()
    entry = entry_path(node, schema)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    count = Counting()
    assert_same(PartyDataCache(compute=count)(node, schema, AS_OF), cold)  # the rounds hit
    assert count.calls == 0
