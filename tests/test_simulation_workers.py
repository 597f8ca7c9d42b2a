"""How many simulated nodes handle messages at once: one per CPU unless the operator says."""

from __future__ import annotations

import os

import pytest

from fedscore.core.errors import ConfigError
from fedscore.simulation import SIMULATION_WORKERS_VARIABLE, simulation_backend


def test_one_worker_per_cpu_by_default(monkeypatch):
    monkeypatch.delenv(SIMULATION_WORKERS_VARIABLE, raising=False)
    backend = simulation_backend()
    assert backend["init_args"]["num_cpus"] == (os.cpu_count() or 1)
    assert backend["client_resources"]["num_cpus"] == 1


def test_the_variable_sets_the_worker_count(monkeypatch):
    monkeypatch.setenv(SIMULATION_WORKERS_VARIABLE, " 1 ")
    assert simulation_backend()["init_args"]["num_cpus"] == 1
    assert simulation_backend(3)["init_args"]["num_cpus"] == 3  # an explicit count wins


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "true"])
def test_a_count_that_is_not_a_positive_whole_number_is_refused(monkeypatch, value):
    monkeypatch.setenv(SIMULATION_WORKERS_VARIABLE, value)
    with pytest.raises(ConfigError, match=SIMULATION_WORKERS_VARIABLE):
        simulation_backend()


def test_a_bad_count_stops_a_run_before_any_table_is_read(monkeypatch, tmp_path):
    from fedscore.simulation import run_simulated_training

    monkeypatch.setenv(SIMULATION_WORKERS_VARIABLE, "zero")
    with pytest.raises(ConfigError, match="whole number"):
        # Neither argument is touched: the count is checked first.
        run_simulated_training(settings=None, manifest=None)  # type: ignore[arg-type]
