"""The default δ follows each party's size; a δ the run sets is the same everywhere."""

from __future__ import annotations

import pytest

from fedscore.clients.rounds.budget import check_delta
from fedscore.clients.rounds.replies import NodeRefusal
from fedscore.clients.training import LocalSchedule
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import DEFAULT_DELTA_CAP, RunConfig


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (1, 1e-5),
        (8_000, 1e-5),
        (10_000, 1e-5),
        (10_001, 1e-6),
        (100_000, 1e-6),
        (100_001, 1e-7),
        (1_000_000, 1e-7),
        (1_300_000, 1e-8),
    ],
)
def test_the_default_delta_is_a_power_of_ten_at_most_a_tenth_of_one_over_n(rows, expected):
    delta = RunConfig().delta_for(rows)
    assert delta == pytest.approx(expected, rel=1e-12)
    assert delta * rows <= 0.1 + 1e-12 and delta <= DEFAULT_DELTA_CAP


@pytest.mark.parametrize("rows", [50_000, 200_000, 1_000_000, 25_000_000])
def test_no_party_however_large_refuses_the_default(rows):
    check_delta(RunConfig(), rows)  # raises NodeRefusal if it would refuse


def test_a_delta_the_run_sets_is_used_at_every_party_and_refused_where_too_large():
    run = RunConfig(delta=1e-5)
    assert run.delta_for(50) == run.delta_for(5_000_000) == 1e-5
    check_delta(run, 50_000)
    with pytest.raises(NodeRefusal, match=r"delta 1e-05 is not below 1/N .* 200000 training rows"):
        check_delta(run, 200_000)


def test_fewer_rows_after_withdrawals_never_make_delta_smaller():
    run = RunConfig()
    deltas = [run.delta_for(rows) for rows in range(120_000, 900, -997)]
    assert deltas == sorted(deltas)


def test_the_schedule_calibrates_at_the_partys_delta():
    run = RunConfig()
    small, large = LocalSchedule.for_party(run, 5_000), LocalSchedule.for_party(run, 500_000)
    assert (small.delta, large.delta) == (1e-5, 1e-7)
    # The same epsilon at a smaller delta needs more noise.
    noise_small = small.calibrated_mechanism(run).noise_multiplier
    noise_at_large_delta = LocalSchedule(
        small.sample_rate, small.steps_per_round, small.expected_batch_size, large.delta
    ).calibrated_mechanism(run)
    assert noise_at_large_delta.noise_multiplier > noise_small


@pytest.mark.parametrize("unset", ["", "none", None])
def test_flowers_run_config_leaves_delta_unset_with_an_empty_value(unset):
    assert RunConfig.from_flower({"delta": unset}).delta is None
    assert "delta" not in RunConfig().to_flower()
    assert RunConfig.from_flower(RunConfig(delta=1e-6).to_flower()).delta == 1e-6


@pytest.mark.parametrize("bad", ["1e-5", True, 0.0, 1.0, float("nan")])
def test_a_delta_of_the_wrong_type_or_range_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="delta"):
        RunConfig.from_mapping({"delta": bad})
