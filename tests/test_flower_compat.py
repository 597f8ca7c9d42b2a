"""The Flower internals fedscore uses are all in `fedscore.core.flower_compat`, and still fit.

Each internal fedscore imports from Flower is checked here for what fedscore relies on
(its parameters, the constant values and fields it reads or sets, the globals it
replaces), so that a Flower upgrade fails in this file with a message naming the
internal, not deep in a simulation or a deployment. A last test checks that no other
fedscore module imports anything of Flower but its public API.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import flwr
import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.proto import runtime_pb2

from fedscore.clients import secure_aggregation as client_secagg
from fedscore.core import flower_compat
from fedscore.core.flower_compat import (
    clientapp,
    fab,
    object_pulls,
    runtime,
    secure_aggregation,
    serialization,
    supernode,
)
from fedscore.deployment import supernode_process
from fedscore.server import secure_aggregation as server_secagg

ROOT = Path(__file__).resolve().parents[1]
COMPAT_MODULES = {
    "secure_aggregation": secure_aggregation,
    "clientapp": clientapp,
    "runtime": runtime,
    "supernode": supernode,
    "fab": fab,
    "object_pulls": object_pulls,
    "serialization": serialization,
}

#: "module:Name.attribute" → the parameters fedscore passes (in Flower's order). Flower may
#: add parameters with defaults; a renamed, reordered or new required one fails.
SIGNATURES: dict[str, list[str]] = {
    "secure_aggregation:SecAggPlusWorkflow.__init__": [
        "num_shares", "reconstruction_threshold", "max_weight", "clipping_range", "timeout",
    ],
    "secure_aggregation:SecAggPlusWorkflow.__call__": ["grid", "context"],
    "secure_aggregation:SecAggPlusWorkflow.setup_stage": ["grid", "context", "state"],
    "secure_aggregation:SecAggPlusWorkflow.share_keys_stage": ["grid", "context", "state"],
    "secure_aggregation:LegacyContext.__init__": ["context", "strategy"],
    "secure_aggregation:GridClientProxy.__init__": ["node_id", "grid", "run_id"],
    "secure_aggregation:LegacyStrategy.configure_fit": [
        "server_round", "parameters", "client_manager",
    ],
    "secure_aggregation:LegacyStrategy.aggregate_fit": ["server_round", "results", "failures"],
    "secure_aggregation:FitIns.__init__": ["parameters", "config"],
    "secure_aggregation:FitRes.__init__": ["status", "parameters", "num_examples", "metrics"],
    "secure_aggregation:Status.__init__": ["code", "message"],
    "secure_aggregation:ndarrays_to_parameters": ["ndarrays"],
    "secure_aggregation:parameters_to_ndarrays": ["parameters"],
    "secure_aggregation:secaggplus_mod": ["msg", "ctxt", "call_next"],
    "secure_aggregation:recorddict_compat.recorddict_to_fitins": ["recorddict", "keep_input"],
    "secure_aggregation:recorddict_compat.fitres_to_recorddict": ["fitres", "keep_input"],
    "clientapp:get_all_nested_objects": ["obj"],
    "runtime:RuntimeHttpClient.from_server_address": [
        "server_address", "insecure", "root_certificates", "interceptors", "retry_invoker",
    ],
    "runtime:RuntimeVersionHttpInterceptor.__init__": ["component_name"],
    "runtime:RuntimeTokenHttpInterceptor.__init__": ["token"],
    "runtime:make_simple_http_retry_invoker": [],
    "runtime:HttpGrid.__init__": ["runtime_api_address", "insecure", "root_certificates", "token"],
    "runtime:HttpGrid.set_run": ["run"],
    "runtime:pull_task_input": ["client"],
    "runtime:push_message": ["client", "message", "context"],
    "runtime:context_from_proto": ["context_proto"],
    "runtime:context_to_proto": ["context"],
    "runtime:fab_from_proto": ["fab"],
    "runtime:run_from_proto": ["run_proto"],
    "runtime:get_fused_config_from_fab": ["fab_file", "run"],
    "runtime:run_server_app": ["grid", "context", "server_app_dir", "loaded_server_app"],
    "runtime:HeartbeatSender.__init__": ["heartbeat_fn"],
    "runtime:HeartbeatSender.start": [],
    "runtime:HeartbeatSender.stop": [],
    "runtime:make_task_heartbeat_fn_http": ["client"],
    "runtime:start_parent_process_monitor": ["parent_pid"],
    "runtime:mirror_output_to_queue": ["log_queue"],
    "runtime:restore_output": [],
    "runtime:start_log_uploader": ["log_queue", "node_id", "run_id", "client"],
    "runtime:flush_logs": ["log_queue"],
    "runtime:stop_log_uploader": ["log_queue", "log_uploader"],
    "supernode:flower_supernode": [],
    "fab:build_fab_from_files": ["files"],
    "fab:filter_paths_for_publish": ["files"],
    "fab:build_fab_from_disk": ["app"],
    "serialization:recorddict_to_proto": ["recorddict"],
    "serialization:recorddict_from_proto": ["recorddict_proto"],
}  # fmt: skip

#: "module:Name.ATTRIBUTE" → the value fedscore relies on.
VALUES: dict[str, object] = {
    "secure_aggregation:RECORD_KEY_CONFIGS": "secaggplus_configs",
    "secure_aggregation:Key.STAGE": "stage",
    "secure_aggregation:Stage.COLLECT_MASKED_VECTORS": "collect_masked_vectors",
    "secure_aggregation:MAIN_CONFIGS_RECORD": "config",
    "secure_aggregation:MAIN_PARAMS_RECORD": "parameters",
    "secure_aggregation:RoundKey.CURRENT_ROUND": "current_round",
    "secure_aggregation:Code.OK.value": 0,
    "runtime:TaskType.CLIENT_APP": "flwr-clientapp",
    "runtime:TaskType.SERVER_APP": "flwr-serverapp",
    "runtime:SubStatus.COMPLETED": "completed",
    "runtime:SubStatus.FAILED": "failed",
    "object_pulls:PULL_INITIAL_BACKOFF": 1,
    "object_pulls:PULL_BACKOFF_CAP": 10,
}

#: "module:Name" → the dataclass fields fedscore reads or sets.
FIELDS: dict[str, set[str]] = {
    "secure_aggregation:WorkflowState": {"sampled_node_ids", "active_node_ids"},
    "runtime:Fab": {"content"},
    "runtime:Run": {"run_id", "fab_hash"},
}

#: (what fedscore uses, the message in `flwr.proto.runtime_pb2` with `.field` followed into
#: a field's message type, the fields fedscore sets or reads).
PROTOBUF: list[tuple[str, str, set[str]]] = [
    ("runtime:AcquireTaskRequest", "AcquireTaskRequest", {"supported_task_types"}),
    ("runtime:PullTaskInputRequest", "PullTaskInputRequest", set()),
    (
        "runtime:PushTaskOutputRequest",
        "PushTaskOutputRequest",
        {"context", "sub_status", "details"},
    ),
    # The replies of the RPCs fedscore calls.
    ("runtime:RuntimeHttpClient.AcquireTask", "AcquireTaskResponse", {"task", "token"}),
    ("runtime:RuntimeHttpClient.AcquireTask", "AcquireTaskResponse.task", {"task_id", "run_id"}),
    (
        "runtime:RuntimeHttpClient.PullTaskInput",
        "PullTaskInputResponse",
        {"task_id", "run", "context", "fab"},
    ),
]

#: Names checked by the dedicated tests below rather than by the tables above.
CHECKED_BY_TESTS = {
    "secure_aggregation": {
        "ClientManager", "ClientProxy", "EvaluateIns", "EvaluateRes", "Parameters", "Scalar",
    },
    "clientapp": {"ClientAppCallable", "Mod"},
    "runtime": {"TaskIdentity", "RuntimeHttpClient"},
    "supernode": {
        "start_client_internal", "heartbeat", "fleet_http_connection", "HEARTBEAT_MIN_INTERVAL",
    },
    "object_pulls": {"inflatable_utils", "shorten_pull_backoff"},
    "serialization": {"ProtoRecordDict", "FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE"},
}  # fmt: skip


def _resolve(key: str) -> object:
    """The object a "module:Name.attribute" key names, failing with the internal's name."""
    module_name, dotted = key.split(":")
    target: object = COMPAT_MODULES[module_name]
    for part in dotted.split("."):
        assert hasattr(target, part), (
            f"Flower internal {module_name}.{dotted} is gone in flwr {flwr.__version__} "
            f"(fedscore.core.flower_compat.{module_name} documents what fedscore uses it for)"
        )
        target = getattr(target, part)
    return target


def _parameters(function: object) -> list[inspect.Parameter]:
    """The parameters of `function` a caller names or fills (no self, no *args/**kwargs)."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p for p in parameters if p.name != "self" and p.kind not in variadic]


def _top_name(key: str) -> tuple[str, str]:
    module_name, dotted = key.split(":")
    return module_name, dotted.split(".")[0]


def test_flower_is_the_version_flower_compat_was_checked_against():
    assert flwr.__version__ == flower_compat.FLOWER_VERSION


def test_another_flower_version_is_refused_naming_both_and_where_to_look():
    with pytest.raises(flower_compat.FlowerVersionError) as refused:
        flower_compat.check_flower_version("1.43.0")
    message = str(refused.value)
    assert flower_compat.FLOWER_VERSION in message
    assert "1.43.0" in message
    assert "core/flower_compat" in message
    assert isinstance(refused.value, ImportError)


@pytest.mark.parametrize("key", sorted(SIGNATURES))
def test_flower_internal_takes_the_parameters_fedscore_passes(key):
    parameters = _parameters(_resolve(key))
    names = [p.name for p in parameters]
    expected = SIGNATURES[key]
    required = [p.name for p in parameters if p.default is p.empty]
    assert [name for name in names if name in expected] == expected, (
        f"Flower internal {key} changed in flwr {flwr.__version__}: fedscore passes "
        f"{expected}, it takes {names}"
    )
    assert set(required) <= set(expected), (
        f"Flower internal {key} now requires {sorted(set(required) - set(expected))} "
        f"(flwr {flwr.__version__}); fedscore passes {expected}"
    )


@pytest.mark.parametrize("key", sorted(VALUES))
def test_flower_constant_still_has_the_value_fedscore_uses(key):
    assert _resolve(key) == VALUES[key], (
        f"Flower constant {key} is {_resolve(key)!r} in flwr {flwr.__version__}, "
        f"fedscore relies on {VALUES[key]!r}"
    )


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_flower_dataclass_still_has_the_fields_fedscore_uses(key):
    fields = {field.name for field in dataclasses.fields(_resolve(key))}  # type: ignore[arg-type]
    missing = FIELDS[key] - fields
    assert not missing, f"Flower internal {key} lost the fields {sorted(missing)}"


@pytest.mark.parametrize(("key", "path", "used"), PROTOBUF, ids=[p for _, p, _ in PROTOBUF])
def test_flower_protobuf_message_still_has_the_fields_fedscore_uses(key, path, used):
    _resolve(key)
    name, *fields = path.split(".")
    assert hasattr(runtime_pb2, name), f"flwr.proto.runtime_pb2.{name} ({key}) is gone"
    descriptor = getattr(runtime_pb2, name).DESCRIPTOR
    for field in fields:
        descriptor = descriptor.fields_by_name[field].message_type
    missing = used - set(descriptor.fields_by_name)
    assert not missing, (
        f"Flower's {descriptor.full_name} (used by {key}) lost the fields {sorted(missing)} "
        f"in flwr {flwr.__version__}"
    )


def test_the_legacy_types_are_those_of_the_strategy_and_workflow_fedscore_implements():
    sa = secure_aggregation
    fit = typing.get_type_hints(sa.LegacyStrategy.configure_fit)
    assert fit["client_manager"] is sa.ClientManager
    assert fit["parameters"] is sa.Parameters
    assert fit["return"] == list[tuple[sa.ClientProxy, sa.FitIns]]
    aggregate = typing.get_type_hints(sa.LegacyStrategy.aggregate_fit)
    assert aggregate["results"] == list[tuple[sa.ClientProxy, sa.FitRes]]
    assert aggregate["return"] == tuple[sa.Parameters | None, dict[str, sa.Scalar]]
    evaluate = typing.get_type_hints(sa.LegacyStrategy.configure_evaluate)
    assert evaluate["return"] == list[tuple[sa.ClientProxy, sa.EvaluateIns]]
    evaluated = typing.get_type_hints(sa.LegacyStrategy.aggregate_evaluate)
    assert evaluated["results"] == list[tuple[sa.ClientProxy, sa.EvaluateRes]]
    stage = typing.get_type_hints(sa.SecAggPlusWorkflow.setup_stage)
    assert stage["context"] is sa.LegacyContext
    assert stage["state"] is sa.WorkflowState
    assert issubclass(sa.GridClientProxy, sa.ClientProxy)


def test_fedscore_implements_every_abstract_method_of_the_legacy_strategy():
    abstract = set(secure_aggregation.LegacyStrategy.__abstractmethods__)
    assert abstract <= set(vars(server_secagg._SumOnly)), (
        f"flwr {flwr.__version__}'s legacy Strategy has abstract methods fedscore's "
        f"_SumOnly lacks: {sorted(abstract - set(vars(server_secagg._SumOnly)))}"
    )


def test_legacy_fit_records_are_named_as_the_node_reads_them():
    sa = secure_aggregation
    values = [np.arange(3, dtype=np.float32)]
    fitins = sa.FitIns(sa.ndarrays_to_parameters(values), {"round": 1})
    records = sa.recorddict_compat.fitins_to_recorddict(fitins, keep_input=True)
    assert set(records) == {client_secagg.LEGACY_PARAMETERS, client_secagg.LEGACY_CONFIG}
    back = sa.recorddict_compat.recorddict_to_fitins(records, keep_input=True)
    np.testing.assert_array_equal(sa.parameters_to_ndarrays(back.parameters)[0], values[0])
    assert dict(back.config) == {"round": 1}
    fitres = sa.FitRes(sa.Status(sa.Code.OK, ""), sa.ndarrays_to_parameters(values), 7, {})
    reply = sa.recorddict_compat.fitres_to_recorddict(fitres, keep_input=True)
    assert sa.recorddict_compat.recorddict_to_fitres(reply, keep_input=True).num_examples == 7


def test_mod_types_are_flowers_handler_types():
    assert clientapp.ClientAppCallable == Callable[[Message, Context], Message]
    assert typing.get_args(clientapp.Mod)[0] == [Message, Context, clientapp.ClientAppCallable]


def test_nested_objects_are_every_wire_object_of_a_record_dict_by_id():
    records = RecordDict({"c": ConfigRecord({"a": 1}), "w": ArrayRecord({"x": Array(np.zeros(3))})})
    objects = clientapp.get_all_nested_objects(records)
    assert records.object_id in objects
    assert {"RecordDict", "ConfigRecord", "ArrayRecord", "Array"} <= {
        type(item).__name__ for item in objects.values()
    }
    assert all(isinstance(item.deflate(), bytes) for item in objects.values())


def test_a_record_dict_survives_flowers_serialization_byte_for_byte():
    records = RecordDict(
        {"c": ConfigRecord({"a": 1, "b": b"\x00"}), "w": ArrayRecord({"x": Array(np.ones(3))})}
    )
    serialized = serialization.recorddict_to_proto(records).SerializeToString()
    parsed = serialization.ProtoRecordDict.FromString(serialized)
    assert serialization.recorddict_from_proto(parsed).object_id == records.object_id
    # A packed content is never larger than the largest object Flower sends itself.
    assert 1 << 20 <= serialization.FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE <= 64 << 20


def test_the_runtime_client_has_the_rpcs_fedscore_calls():
    for rpc in ("AcquireTask", "PullTaskInput", "PushTaskOutput", "SendTaskHeartbeat"):
        assert callable(getattr(runtime.RuntimeHttpClient, rpc, None)), (
            f"Flower's RuntimeHttpClient has no {rpc} in flwr {flwr.__version__}"
        )


def test_the_task_identity_fedscore_sets_is_settable_per_class():
    for name in ("task_id", "run_id", "node_id"):
        attribute = vars(type(runtime.TaskIdentity)).get(name)
        assert isinstance(attribute, property) and attribute.fset is not None, (
            f"Flower's TaskIdentity.{name} can no longer be set (flwr {flwr.__version__})"
        )


def test_the_supernode_waits_fedscore_shortens_are_still_flowers():
    source = inspect.getsource(supernode.start_client_internal)
    assert source.count(f"time.sleep({supernode_process.FLOWER_IDLE_SLEEP})") == 1
    assert source.count(f"time.sleep({supernode_process.FLOWER_REPLY_SLEEP})") == 2
    # A module global the launcher can replace.
    assert supernode.start_client_internal.time.__name__ == "time"


def test_the_heartbeat_interval_fedscore_announces_is_one_flower_accepts_and_keeps():
    assert supernode.HEARTBEAT_MIN_INTERVAL <= supernode_process.HEARTBEAT_SECONDS
    # The two module globals the launcher replaces are still read where they are used.
    announced = inspect.getsource(supernode.fleet_http_connection)
    assert "heartbeat_interval=HEARTBEAT_DEFAULT_INTERVAL" in announced
    kept = inspect.getsource(supernode.heartbeat)
    assert "next_interval: float = HEARTBEAT_DEFAULT_INTERVAL" in kept


@pytest.mark.parametrize("module_name", sorted(COMPAT_MODULES))
def test_every_internal_is_documented_and_checked(module_name):
    module = COMPAT_MODULES[module_name]
    checked = {
        name
        for table in (SIGNATURES, VALUES, FIELDS, [key for key, _, _ in PROTOBUF])
        for owner, name in map(_top_name, table)
        if owner == module_name
    }
    checked |= CHECKED_BY_TESTS.get(module_name, set())
    for name in module.__all__:
        assert f"`{name}`" in (module.__doc__ or ""), f"{module.__name__} does not document {name}"
        assert name in checked, f"no test in this file checks {module_name}.{name}"


# -- No module outside flower_compat imports a Flower internal ----------------------------

#: Flower's public API fedscore may import anywhere: module → the names it exports.
PUBLIC: dict[str, set[str]] = {
    "flwr.app": set(flwr.app.__all__),
    "flwr.serverapp": set(flwr.serverapp.__all__),
    "flwr.serverapp.strategy": set(flwr.serverapp.strategy.__all__),
    "flwr.clientapp": set(flwr.clientapp.__all__),
    "flwr.clientapp.mod": set(flwr.clientapp.mod.__all__),
    # Of flwr.common only the record and message types (the rest is the legacy API).
    "flwr.common": {
        "Array", "ArrayRecord", "ConfigRecord", "Context", "DEFAULT_TTL", "Error", "Message",
        "MessageType", "Metadata", "MetricRecord", "RecordDict",
    },
    "flwr.simulation": {"run_simulation"},
}  # fmt: skip

COMPAT_FOLDER = ROOT / "core" / "flower_compat"


def _package_folders() -> list[Path]:
    """The folders of the `fedscore` packages (pyproject.toml's package-dir)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    folders = pyproject["tool"]["setuptools"]["package-dir"].values()
    return sorted({ROOT / folder for folder in folders})


def _flower_imports(tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """(module, name or None for the module itself, line) of each Flower import in `tree`."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if _is_flower(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_flower(node.module):
            assert node.module is not None
            for alias in node.names:
                if node.module == "flwr":  # `from flwr import app` imports module flwr.app
                    found.append((f"flwr.{alias.name}", None, node.lineno))
                else:
                    found.append((node.module, alias.name, node.lineno))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and _is_flower(str(node.args[0].value))
        ):
            found.append((str(node.args[0].value), None, node.lineno))
    return found


def _is_flower(module: str | None) -> bool:
    return module is not None and re.match(r"flwr(\.|$)", module) is not None


def _internal_imports() -> list[tuple[str, str, str | None, int]]:
    """(file, module, name, line) of each import of Flower that is not its public API."""
    found = []
    for folder in _package_folders():
        for path in sorted(folder.rglob("*.py")):
            if COMPAT_FOLDER in path.parents:
                continue
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
            for module, name, line in _flower_imports(tree):
                public = module in PUBLIC and (name is None or name in PUBLIC[module])
                if not public:
                    found.append((str(path.relative_to(ROOT)), module, name, line))
    return found


def test_no_module_outside_flower_compat_imports_a_flower_internal():
    internal = [
        f"{path}:{line}: {module}{'' if name is None else ' → ' + name}"
        for path, module, name, line in _internal_imports()
    ]
    assert not internal, (
        "Flower internals imported outside fedscore.core.flower_compat (add them there, "
        "documented and checked in this file, and import them from it):\n" + "\n".join(internal)
    )


def test_the_scan_sees_what_it_must_refuse():
    tree = ast.parse(
        "from flwr.app import Message\nfrom flwr.supercore.run import Run\n"
        "import flwr.server\nfrom flwr import proto\n"
        "importlib.import_module('flwr.cli.build')\n"
    )
    assert _flower_imports(tree) == [
        ("flwr.app", "Message", 1),
        ("flwr.supercore.run", "Run", 2),
        ("flwr.server", None, 3),
        ("flwr.proto", None, 4),
        ("flwr.cli.build", None, 5),
    ]


def test_the_public_api_whitelisted_is_importable():
    for module, names in PUBLIC.items():
        imported = __import__(module, fromlist=["_"])
        assert isinstance(imported, ModuleType)
        missing = {name for name in names if not hasattr(imported, name)}
        assert not missing, f"{module} no longer exports {sorted(missing)}"


def test_the_object_pull_backoff_fedscore_shortens_is_still_flowers_default():
    """Both pulling functions still take the backoff as keyword-only defaults of Flower's
    constants, `pull_and_inflate_object_from_tree` still hands it on to `pull_objects`,
    and `shorten_pull_backoff` replaces exactly those defaults (restored afterwards)."""
    forwarding = inspect.getsource(object_pulls.inflatable_utils.pull_and_inflate_object_from_tree)
    assert "initial_backoff=initial_backoff" in forwarding
    assert "backoff_cap=backoff_cap" in forwarding
    saved = [dict(function.__kwdefaults__ or {}) for function in object_pulls.PULLING]
    try:
        for function in object_pulls.PULLING:
            defaults = function.__kwdefaults__ or {}
            assert defaults["initial_backoff"] == object_pulls.PULL_INITIAL_BACKOFF
            assert defaults["backoff_cap"] == object_pulls.PULL_BACKOFF_CAP
        object_pulls.shorten_pull_backoff(0.02, 0.5)
        for function in object_pulls.PULLING:
            defaults = function.__kwdefaults__ or {}
            assert (defaults["initial_backoff"], defaults["backoff_cap"]) == (0.02, 0.5)
            assert set(defaults) == set(
                saved[0] if function is object_pulls.PULLING[0] else saved[1]
            )
    finally:
        for function, defaults in zip(object_pulls.PULLING, saved, strict=True):
            function.__kwdefaults__ = defaults


def test_the_coordinators_in_memory_state_uses_flowers_name_for_it():
    """server.toml's `state = "memory"` passes Flower's own in-memory database name."""
    from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME

    from fedscore.deployment import server_config

    assert server_config.FLWR_IN_MEMORY_DB_NAME == FLWR_IN_MEMORY_DB_NAME
