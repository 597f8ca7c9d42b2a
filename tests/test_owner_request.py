"""The model owner's signed run request, as simulation and deployment build it."""

from datetime import timedelta
from pathlib import Path

import pytest

from fedscore.core.owner_request import DEFAULT_ROUND_TIMEOUT, DEFAULT_VALID_HOURS
from fedscore.core.run_request import OwnerIdentity, SignedRunRequest
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.signing import SigningKey
from fedscore.datasets import default_task_path
from fedscore.deployment.runs import AppRelease, NewRun, new_run_request
from fedscore.server.settings import ServerSettings


@pytest.fixture
def owner(tmp_path) -> tuple[OwnerIdentity, SigningKey]:
    key = SigningKey.create(tmp_path / "owner.pem")
    return OwnerIdentity("bank_owner", tmp_path / "owner.pem"), key


def test_simulation_signs_the_settings_it_runs_with(owner, tmp_path):
    identity, key = owner
    test_table = tmp_path / "test.csv"
    settings = ServerSettings.new_run(
        RunConfig(rounds=2), default_task_path(), tmp_path / "runs", 3, test_table
    ).signed_by(identity, valid_hours=2.0)
    signed = SignedRunRequest.decode(settings.run_request)
    request = signed.request
    assert signed.verify({identity.name: key.public_hex}) == identity.name
    assert request.run_id == settings.run_id and request.parties == 3
    assert request.run_config() == settings.run
    assert (request.app_sha256, request.release) == (None, None)
    schema = load_schema(default_task_path())
    assert (request.task, request.schema_sha256) == (schema.name, schema.sha256)
    assert request.expires_at - request.issued_at == timedelta(hours=2)
    options = request.coordinator
    assert options.runs_dir == str(settings.run_dir.parent)
    assert options.consortium_test == str(test_table)
    assert options.task_schema == str(default_task_path())
    assert options.round_timeout == DEFAULT_ROUND_TIMEOUT


def test_deployment_signs_the_new_run_with_its_release_and_resolved_paths(
    owner, tmp_path, monkeypatch
):
    identity, key = owner
    monkeypatch.chdir(tmp_path)
    new = NewRun(RunConfig(), 2, Path("runs"), round_timeout=60.0)
    release = AppRelease(b"an app bundle")
    signed = new_run_request(new, identity, release)
    request = signed.request
    assert signed.verify({identity.name: key.public_hex}) == identity.name
    assert (request.app_sha256, request.release) == (release.sha256, None)
    assert request.parties == 2 and request.run_config() == RunConfig()
    assert request.expires_at - request.issued_at == timedelta(hours=DEFAULT_VALID_HOURS)
    options = request.coordinator
    assert options.runs_dir == str(tmp_path.resolve() / "runs")
    assert options.consortium_test == ""
    assert options.task_schema == str(default_task_path().resolve())
    assert options.round_timeout == 60.0
