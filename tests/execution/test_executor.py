"""The executor on the default registry: argument types of real functions, ``requires``, and
errors turned into returns (through ``MinionFunctions.call``, the ``pvc call`` path)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.errors import ExecutionError
from pvc.execution import ExecContext, ModuleSpec, Registry, execute, log_events
from pvc.minion.functions import MinionFunctions
from pvc.modules import MODULES, default_registry


@pytest.fixture(scope="module")
def funcs() -> MinionFunctions:
    return MinionFunctions(MinionConfig(id="exec-test"), grains={"os": "Debian"})


def test_every_module_registers_with_checkable_annotations() -> None:
    reg = default_registry()
    assert [m.name for m in reg.modules()] == sorted(MODULES)
    assert all(f.rules is not None for f in reg.functions())


@pytest.mark.parametrize(("fun", "args", "kwargs", "message"), [
    ("test.sleep", ["2"], {}, "test.sleep: argument 'length' must be a number, got a string"),
    ("test.sleep", [True], {}, "test.sleep: argument 'length' must be a number, got a boolean"),
    ("test.sleep", [-1], {}, "test.sleep: length must be a number of seconds between 0 and 3600"),
    ("virt.console_log", ["vm1", True], {}, "virt.console_log: argument 'lines' must be an integer, got a boolean"),
    ("virt.shutdown", ["vm1"], {"timeout": "5"},
     "virt.shutdown: argument 'timeout' must be a number or null, got a string"),
    ("virt.migrate", ["vm1", "qemu:///x"], {"retries": 1.0},
     "virt.migrate: argument 'retries' must be an integer, got a number"),
    ("grains.get", [["os"]], {}, "grains.get: argument 'key' must be a string, got a list"),
    ("grains.item", ["os", 2], {}, "grains.item: argument 'keys[1]' must be a string, got an integer"),
    ("sys.list_functions", [5], {}, "sys.list_functions: argument 'selector' must be a string or null, got an integer"),
    ("ceph.pool_create", ["p"], {"pg_num": False}, "ceph.pool_create: argument 'pg_num' must be an integer, got a boolean"),
    ("ceph.volume_create", ["p", "i", "1G"], {"features": "layering"},
     "ceph.volume_create: argument 'features' must be a list or null, got a string"),
    ("frr.evpn_vni", [True], {}, "frr.evpn_vni: argument 'vni' must be an integer or null, got a boolean"),
    ("frr.render", [65000, "10.0.0.1"], {"peers": ["10.0.0.2"]},
     "frr.render: argument 'peers[0]' must be a mapping, got a string"),
    ("dnsmasq.start", ["n", "br0", "10.0.0.10", "10.0.0.20"], {"servers": "1.1.1.1"},
     "dnsmasq.start: argument 'servers' must be a list or null, got a string"),
    ("network.route_present", ["10.0.0.0/8"], {"table": "main"},
     "network.route_present: argument 'table' must be an integer, got a string"),
    ("test.echo", [], {"txt": 1}, "test.echo(text): missing a required argument: 'text'"),
    ("test.echo", [1, 2], {}, "test.echo(text): too many positional arguments"),
    ("grains.get", ["os"], {"dflt": 1},
     "grains.get(key, default='', delimiter=':'): got an unexpected keyword argument 'dflt'"),
])
def test_bad_arguments_of_registered_functions(funcs: MinionFunctions, fun: str, args: list[Any],
                                               kwargs: dict[str, Any], message: str) -> None:
    ret = funcs.call(fun, args, kwargs)
    assert not ret.ok and ret.error_type == "InvalidArgument", ret
    assert ret.error == message


def test_defaults_and_optional_values_pass(funcs: MinionFunctions) -> None:
    assert funcs.call("grains.get", ["nosuch"]).data == ""                     # default used
    assert funcs.call("grains.get", ["nosuch", None]).data is None              # Any takes null
    assert funcs.call("sys.list_functions", [None]).ok                          # Optional takes null
    assert funcs.call("test.sleep", [0]).data is True                           # an int is a number
    assert funcs.call("test.arg", [1, "two"], {"three": 3}).data["types"] == ["int", "str"]


def _needs_nothing_real(ctx: ExecContext) -> str:
    """Never reached: the module's backend cannot be imported."""
    return "ran"


def test_requires_is_checked_before_the_call() -> None:
    reg = Registry()
    reg.add(ModuleSpec("virt", functions=(_needs_nothing_real,), requires=("json", "pvc_no_such_backend_xyz")))
    ctx = ExecContext(minion_id="m", config=None, grains={}, log=logging.getLogger("t"),
                      fire_event=log_events(logging.getLogger("t")))
    ret = execute(reg.get("virt._needs_nothing_real"), ctx)
    assert not ret.ok and ret.error_type == "BackendUnavailable"
    assert ret.error == "virt needs pvc_no_such_backend_xyz: No module named 'pvc_no_such_backend_xyz'"


def test_requires_met_runs_the_function() -> None:
    reg = Registry()
    reg.add(ModuleSpec("demo", functions=(_needs_nothing_real,), requires=("json",)))
    ctx = ExecContext(minion_id="m", config=None, grains={}, log=logging.getLogger("t"),
                      fire_event=log_events(logging.getLogger("t")))
    assert execute(reg.get("demo._needs_nothing_real"), ctx).data == "ran"


def _boom(ctx: ExecContext, what: str) -> None:
    """Raise a pvc error or a bug."""
    if what == "pvc":
        raise ExecutionError("demo: cannot do it")
    raise KeyError(what)


def test_errors_become_returns() -> None:
    reg = Registry()
    reg.add(ModuleSpec("demo", functions=(_boom,)))
    ctx = ExecContext(minion_id="m", config=None, grains={}, log=logging.getLogger("t"),
                      fire_event=log_events(logging.getLogger("t")))
    ret = execute(reg.get("demo._boom"), ctx, ["pvc"])
    assert (ret.ok, ret.error, ret.error_type) == (False, "demo: cannot do it", "ExecutionError")
    ret = execute(reg.get("demo._boom"), ctx, ["bug"])
    assert (ret.ok, ret.error, ret.error_type) == (False, "demo._boom failed: KeyError: 'bug'", "KeyError")


def test_unknown_functions_are_refused(funcs: MinionFunctions) -> None:
    ret = funcs.call("nosuch.fun")
    assert not ret.ok and ret.error_type == "UnknownFunction" and "no module named 'nosuch'" in ret.error
