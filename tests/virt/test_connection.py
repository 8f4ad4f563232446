"""The libvirt adapter stands alone: a handle cache and a URI, no job context (libvirt's
in-process test driver, so no daemon is needed)."""

from __future__ import annotations

import pytest

from pvc.errors import BackendUnavailable
from pvc.execution.resources import Resources
from pvc.virt.connection import connection, libvirt_call
from pvc.virt.errors import DomainNotFound

URI = "test:///default"


def test_one_shared_connection_per_uri() -> None:
    resources = Resources()
    with libvirt_call(resources, URI, "list domains") as conn:
        assert [d.name() for d in conn.listAllDomains()] == ["test"]
    assert connection(resources, URI) is conn
    resources.close()


def test_libvirt_errors_become_typed_pvc_errors() -> None:
    resources = Resources()
    with pytest.raises(DomainNotFound, match="virt: cannot read domain nosuch: Domain not found"), \
            libvirt_call(resources, URI, "read domain nosuch") as conn:
        conn.lookupByName("nosuch")
    resources.close()


def test_a_down_daemon_is_backend_unavailable() -> None:
    uri = "qemu+unix:///system?socket=/nonexistent"
    with pytest.raises(BackendUnavailable) as err, libvirt_call(Resources(), uri, "list domains"):
        pass
    assert str(err.value).startswith(f"libvirt: cannot connect to {uri}: ")
