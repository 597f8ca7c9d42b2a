"""Label DP: randomized response on binary labels and the store that releases them once."""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fedscore.core.errors import ConfigError, TableReadError, TableValidationError
from fedscore.privacy import label_dp
from fedscore.privacy.label_dp import (
    LabelReleaseStore,
    RandomizedResponse,
    binary_labels,
    label_version,
)

ROWS = 200_000


def true_labels(n: int = ROWS, rate: float = 0.22, seed: int = 7) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(np.int64)


def keys_of(n: int) -> list[str]:
    return [f"k{i:07d}" for i in range(n)]


# --- the mechanism -------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 2.0, 4.0, 50.0, 1000.0])
def test_flip_probability_is_one_over_one_plus_e_to_the_epsilon(epsilon):
    expected = 1 / (1 + math.exp(epsilon)) if epsilon < 700 else 0.0
    p = RandomizedResponse(epsilon).flip_probability
    assert math.isclose(p, expected, rel_tol=1e-12, abs_tol=1e-300)
    assert 0 <= p < 0.5


@pytest.mark.parametrize("epsilon", [0.25, 1.0, 3.0])
def test_flip_rate_matches_the_flip_probability(epsilon):
    mechanism = RandomizedResponse(epsilon)
    labels = true_labels()
    released = mechanism.release(labels, np.random.default_rng(2024))
    assert released.dtype == np.int8 and released.shape == labels.shape
    assert set(np.unique(released)) <= {0, 1}
    p = mechanism.flip_probability
    flips = int((released != labels).sum())
    std = math.sqrt(ROWS * p * (1 - p))
    assert abs(flips - ROWS * p) < 4 * std
    # Flips happen at the same rate whatever the true label.
    for value in (0, 1):
        rows = labels == value
        n = int(rows.sum())
        flipped = int((released[rows] != value).sum())
        assert abs(flipped - n * p) < 4 * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 2.0])
def test_debiased_labels_are_unbiased(epsilon):
    mechanism = RandomizedResponse(epsilon)
    labels = true_labels()
    debiased = mechanism.debiased(mechanism.release(labels, np.random.default_rng(11)))
    p = mechanism.flip_probability
    row_std = math.sqrt(p * (1 - p)) / (1 - 2 * p)
    assert abs(debiased.mean() - labels.mean()) < 4 * row_std / math.sqrt(ROWS)
    # Per class too: E[debiased | y] = y.
    for value in (0, 1):
        rows = labels == value
        assert abs(debiased[rows].mean() - value) < 4 * row_std / math.sqrt(rows.sum())


def test_debiased_values_are_the_two_affine_images():
    mechanism = RandomizedResponse(1.0)
    p = mechanism.flip_probability
    assert mechanism.debiased(np.array([0, 1])) == pytest.approx(
        [-p / (1 - 2 * p), (1 - p) / (1 - 2 * p)]
    )


@pytest.mark.parametrize(
    "epsilon", [0, 0.0, -1.0, math.inf, -math.inf, math.nan, True, "1.0", None, 1e-320]
)
def test_invalid_epsilon_is_refused(epsilon):
    with pytest.raises(ConfigError, match="epsilon"):
        RandomizedResponse(epsilon)


def test_numpy_epsilon_is_accepted():
    assert RandomizedResponse(np.float64(1.0)).epsilon == 1.0
    assert RandomizedResponse(2).epsilon == 2.0


def test_release_is_reproducible_for_a_given_generator():
    mechanism = RandomizedResponse(1.0)
    labels = true_labels(1000)
    first = mechanism.release(labels, np.random.default_rng(3))
    again = mechanism.release(labels, np.random.default_rng(3))
    assert np.array_equal(first, again)


# --- label validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, index",
    [
        (np.array([0, 1, 7, 1]), 2),
        (np.array([0.0, 1.0, 1.0, 0.5]), 3),
        (np.array([0.0, math.nan, 1.0]), 1),
        (np.array([1, -1]), 1),
        (["0", "1"], 0),
        ([0, 1, None], 2),
    ],
)
def test_non_binary_labels_are_refused_naming_the_row(labels, index):
    with pytest.raises(TableValidationError) as caught:
        RandomizedResponse(1.0).release(labels, np.random.default_rng(0))
    message = str(caught.value)
    assert f"row {index + 1}" in message
    assert f"index {index}" in message
    assert "0 or 1" in message


def test_the_refusal_never_shows_the_value():
    labels = np.zeros(10, dtype=np.int64)
    labels[4] = 987654
    with pytest.raises(TableValidationError) as caught:
        binary_labels(labels)
    assert "987654" not in str(caught.value)


def test_many_bad_labels_are_counted():
    with pytest.raises(TableValidationError) as caught:
        binary_labels(np.full(50, 3))
    assert caught.value.total == 50
    assert len(caught.value.problems) == TableValidationError.max_reported


def test_labels_must_be_one_dimensional():
    with pytest.raises(TableValidationError, match="one-dimensional"):
        binary_labels(np.zeros((3, 2)))


def test_bool_int_and_float_labels_are_accepted():
    for labels in ([True, False], [1, 0], [1.0, 0.0], np.array([1, 0], np.uint8)):
        assert binary_labels(labels).tolist() == [1, 0]


def test_debiased_refuses_non_binary_release():
    with pytest.raises(TableValidationError, match="row 2"):
        RandomizedResponse(1.0).debiased(np.array([0.0, 0.3]))


# --- the label version ---------------------------------------------------------------


def test_label_version_is_a_sha256_of_the_pairs_in_order():
    keys, labels = ["a", "b", "c"], np.array([0, 1, 1])
    version = label_version(keys, labels)
    assert len(version) == 64 and int(version, 16) >= 0
    assert label_version(list(keys), labels.astype(float)) == version
    assert label_version(keys, np.array([0, 1, 0])) != version
    assert label_version(["a", "b", "d"], labels) != version
    assert label_version(["b", "a", "c"], np.array([1, 0, 1])) != version
    # Key boundaries are part of the hash.
    assert label_version(["ab", "c"], [0, 0]) != label_version(["a", "bc"], [0, 0])


def test_label_version_checks_its_input():
    with pytest.raises(ConfigError, match="2 row keys but 3 labels"):
        label_version(["a", "b"], [0, 1, 1])
    with pytest.raises(ConfigError, match="index 1"):
        label_version(["a", 5], [0, 1])  # type: ignore[list-item]
    with pytest.raises(TableValidationError, match="row 1"):
        label_version(["a"], [2])


# --- the store -----------------------------------------------------------------------


@pytest.fixture
def labels():
    return true_labels(5000)


@pytest.fixture
def version(labels):
    return label_version(keys_of(len(labels)), labels)


def test_the_store_releases_once_per_version_and_epsilon(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path / "releases")
    first = store.release_for(version, labels, 1.0)
    assert first.new
    assert first.label_version == version and first.epsilon == 1.0
    assert first.labels.dtype == np.int8 and len(first.labels) == len(labels)
    assert not first.labels.flags.writeable
    # Noise was added: some labels differ, about p of them.
    p = RandomizedResponse(1.0).flip_probability
    assert abs((first.labels != labels).mean() - p) < 0.03
    second = store.release_for(version, labels, 1.0)
    assert not second.new
    assert np.array_equal(first.labels, second.labels)
    assert second.path == first.path
    # A new store object on the same folder sees the same release.
    third = LabelReleaseStore(tmp_path / "releases").release_for(version, labels, 1.0)
    assert not third.new and np.array_equal(third.labels, first.labels)
    assert np.allclose(third.debiased(), RandomizedResponse(1.0).debiased(first.labels))


def test_another_process_gets_the_same_release(tmp_path, labels, version):
    folder = tmp_path / "releases"
    first = LabelReleaseStore(folder).release_for(version, labels, 1.0)
    np.save(tmp_path / "labels.npy", labels)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import numpy as np
        from fedscore.privacy.label_dp import LabelReleaseStore
        folder, labels, version = Path(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
        release = LabelReleaseStore(folder).release_for(version, labels, 1.0)
        print(release.new, "".join(map(str, release.labels.tolist())))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), str(tmp_path / "labels.npy"), version],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    new, bits = done.stdout.split()
    assert new == "False"
    assert bits == "".join(map(str, first.labels.tolist()))


def test_another_epsilon_is_another_release(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path)
    one = store.release_for(version, labels, 1.0)
    two = store.release_for(version, labels, 2.0)
    assert one.new and two.new
    assert one.path != two.path
    assert not np.array_equal(one.labels, two.labels)
    assert not store.release_for(version, labels, 2.0).new
    assert not store.release_for(version, labels, 1.0).new


def test_another_label_version_is_another_release(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path)
    store.release_for(version, labels, 1.0)
    flipped = labels.copy()
    flipped[0] = 1 - flipped[0]
    other = label_version(keys_of(len(labels)), flipped)
    assert store.release_for(other, flipped, 1.0).new


def test_release_files_are_owner_only(tmp_path, labels, version):
    folder = tmp_path / "releases"
    release = LabelReleaseStore(folder).release_for(version, labels, 1.0)
    assert stat.S_IMODE(release.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert release.path.parent == folder


def test_an_existing_folder_is_made_owner_only(tmp_path, labels, version):
    folder = tmp_path / "releases"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    LabelReleaseStore(folder).release_for(version, labels, 1.0)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("failing", ["link", "fsync"])
def test_a_failed_write_leaves_no_release_behind(tmp_path, labels, version, monkeypatch, failing):
    folder = tmp_path / "releases"
    store = LabelReleaseStore(folder)

    def fail(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="disk gone"):
        store.release_for(version, labels, 1.0)
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    assert store.release_for(version, labels, 1.0).new


def test_a_release_stored_meanwhile_by_another_process_wins(tmp_path, labels, version, monkeypatch):
    store = LabelReleaseStore(tmp_path)
    real_write = label_dp.write_private
    theirs = {}

    def racing_write(path, data, exclusive=False):
        # Another process stores its release between our check and our write.
        monkeypatch.setattr(label_dp, "write_private", real_write)
        theirs["release"] = store.release_for(version, labels, 1.0, np.random.default_rng(99))
        return real_write(path, data, exclusive)

    monkeypatch.setattr(label_dp, "write_private", racing_write)
    ours = store.release_for(version, labels, 1.0, np.random.default_rng(1))
    assert theirs["release"].new
    assert not ours.new
    assert np.array_equal(ours.labels, theirs["release"].labels)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"{}", b'{"format": "fedscore-label-release/1"}', b"\xff\xfe"],
)
def test_a_corrupt_release_is_refused_and_kept(tmp_path, labels, version, content):
    store = LabelReleaseStore(tmp_path)
    path = store.path_for(version, 1.0)
    path.write_bytes(content)
    with pytest.raises(TableReadError, match="corrupt") as caught:
        store.release_for(version, labels, 1.0)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_tampered_labels_are_detected(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path)
    release = store.release_for(version, labels, 1.0)
    text = release.path.read_text()
    marker = '"labels": "'
    start = text.index(marker) + len(marker)
    swapped = "B" if text[start] != "B" else "C"
    release.path.write_text(text[:start] + swapped + text[start + 1 :])
    with pytest.raises(TableReadError, match="corrupt"):
        store.release_for(version, labels, 1.0)


def test_a_release_of_another_length_is_refused(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path)
    release = store.release_for(version, labels, 1.0)
    before = release.path.read_bytes()
    with pytest.raises(TableReadError, match=f"has {len(labels)} rows, the labels have 10"):
        store.release_for(version, labels[:10], 1.0)
    assert release.path.read_bytes() == before


def test_a_release_filed_under_another_name_is_refused(tmp_path, labels, version):
    store = LabelReleaseStore(tmp_path)
    release = store.release_for(version, labels, 1.0)
    os.replace(release.path, store.path_for(version, 2.0))
    with pytest.raises(TableReadError, match="another version or epsilon"):
        store.release_for(version, labels, 2.0)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "abc", "A" * 64, "0" * 63])
def test_label_versions_must_be_digests(tmp_path, labels, bad):
    with pytest.raises(ConfigError, match="label version"):
        LabelReleaseStore(tmp_path).release_for(bad, labels, 1.0)
    assert list(tmp_path.iterdir()) == []


def test_the_store_refuses_bad_labels_and_epsilon(tmp_path, version):
    store = LabelReleaseStore(tmp_path)
    with pytest.raises(TableValidationError, match="row 2"):
        store.release_for(version, [0, 2], 1.0)
    with pytest.raises(ConfigError, match="epsilon"):
        store.release_for(version, [0, 1], 0.0)
    assert list(tmp_path.iterdir()) == []
