"""Local DP-SGD: noise really applied, every step accounted, empty batches, FedProx pull."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.validation import validate_frame
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd, MechanismParams, NoPrivacy


@pytest.fixture()
def rows(party_table, schema):
    table = validate_frame(party_table, schema)
    return FeatureEncoder(schema).transform(table), table.labels


def _weights(model: torch.nn.Module) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


def _train(rows, run, privacy_for, sampling_seed=0, noise_seed=None, model="lr"):
    features, labels = rows
    run = run.replace(model=model)
    schedule = LocalSchedule.for_party(run, len(labels))
    accountant = PartyAccountant()
    noise = torch.Generator().manual_seed(noise_seed) if noise_seed is not None else None
    privacy = privacy_for(schedule, accountant, noise)
    start = build_model(ModelSpec(run.model, features.shape[1], run.hidden, seed=1))
    trained, result = train_locally(
        start,
        features,
        labels,
        run,
        schedule,
        privacy,
        torch.Generator().manual_seed(sampling_seed),
    )
    return trained, result, accountant, schedule


def _dp(noise_multiplier=1.0, clip=4.0):
    def make(schedule, accountant, generator):
        params = MechanismParams(
            noise_multiplier, schedule.sample_rate, clip, schedule.expected_batch_size
        )
        return DpSgd(params, accountant, noise_generator=generator)

    return make


def _plain(schedule, accountant, generator):
    return NoPrivacy(accountant)


def test_every_dp_step_is_accounted(rows):
    run = RunConfig(batch_size=256)
    _, result, accountant, schedule = _train(rows, run, _dp())
    assert result.steps == schedule.steps_per_round == accountant.steps
    assert accountant.history == [(1.0, schedule.sample_rate, schedule.steps_per_round)]
    assert accountant.epsilon(1e-5, "rdp") > 0


def test_noise_is_really_added(rows):
    run = RunConfig(batch_size=256)
    a, *_ = _train(rows, run, _dp(), sampling_seed=3, noise_seed=1)
    b, *_ = _train(rows, run, _dp(), sampling_seed=3, noise_seed=2)
    c, *_ = _train(rows, run, _dp(noise_multiplier=0.0), sampling_seed=3, noise_seed=1)
    d, *_ = _train(rows, run, _dp(noise_multiplier=0.0), sampling_seed=3, noise_seed=2)
    assert not np.allclose(_weights(a), _weights(b))  # different noise → different model
    np.testing.assert_allclose(_weights(c), _weights(d), rtol=1e-5)  # no noise → same model


def test_non_private_mode_marks_the_accountant(rows):
    _, _, accountant, schedule = _train(rows, RunConfig(private=False), _plain)
    assert accountant.non_private_steps == schedule.steps_per_round
    assert accountant.epsilon(1e-5, "rdp") == float("inf")


def test_empty_poisson_batches_still_step_and_account(rows):
    features, labels = rows
    run = RunConfig()
    schedule = LocalSchedule(sample_rate=1e-9, steps_per_round=3, expected_batch_size=1, delta=1e-5)
    accountant = PartyAccountant()
    params = MechanismParams(1.0, schedule.sample_rate, 1.0, 1)
    model = build_model(ModelSpec("lr", features.shape[1]))
    trained, result = train_locally(
        model, features, labels, run, schedule, DpSgd(params, accountant), torch.Generator()
    )
    assert result.mean_batch_size == 0 and accountant.steps == 3
    assert np.isfinite(_weights(trained)).all()
    assert np.abs(_weights(trained)).sum() > 0  # the noise moved the (zero-initialised) model


def test_mlp_trains_under_dp(rows):
    trained, _, accountant, _ = _train(rows, RunConfig(batch_size=256), _dp(), model="mlp")
    assert accountant.steps > 0 and np.isfinite(_weights(trained)).all()
    assert not hasattr(trained, "_module")  # unwrapped before it is sent


def test_fedprox_term_pulls_towards_the_global_model(rows):
    features, _ = rows
    start = _weights(build_model(ModelSpec("lr", features.shape[1], seed=1)))
    run = RunConfig(learning_rate=0.2, batch_size=100, local_epochs=3)
    free, *_ = _train(rows, run, _plain, sampling_seed=5)
    prox, *_ = _train(
        rows, run.replace(strategy="fedprox", proximal_mu=2.0), _plain, sampling_seed=5
    )
    assert np.linalg.norm(_weights(prox) - start) < 0.5 * np.linalg.norm(_weights(free) - start)
