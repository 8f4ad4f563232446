"""The client raises the error class the master or a minion reported, by an explicit table."""

from __future__ import annotations

import inspect

import pytest

from pvc import errors
from pvc.ceph import errors as ceph_errors
from pvc.client import error_type
from pvc.virt import errors as virt_errors


@pytest.mark.parametrize("module", [errors, ceph_errors, virt_errors])
def test_every_error_of_the_error_modules_is_in_the_table(module: object) -> None:
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, errors.PvcError) and cls.__module__ == module.__name__:  # type: ignore[attr-defined]
            assert error_type(name) is cls, name


def test_reported_names_map_to_their_classes_and_others_to_the_root() -> None:
    from pvc.execution.control import JobKilled, MinionBusy
    from pvc.net.handle import NoSuchLink

    assert error_type("CephNotFound") is ceph_errors.CephNotFound
    assert error_type("JobKilled") is JobKilled and error_type("MinionBusy") is MinionBusy
    assert error_type("NoSuchLink") is NoSuchLink
    assert error_type("os.system") is errors.PvcError and error_type("") is errors.PvcError
