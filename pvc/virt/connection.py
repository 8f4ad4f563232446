"""One libvirt connection per minion and URI, and libvirt errors turned into pvc errors.

The connection lives in the caller's handle cache (``libvirt:<uri>`` in a
:class:`~pvc.execution.resources.Resources`) so every job reuses it; when a call fails because
the daemon went away, the handle is dropped and the next call reopens it. libvirt error codes
map to typed errors by table, not by string matching.

Example::

    with libvirt_call(resources, "qemu:///system", "start vm1") as conn:
        conn.lookupByName("vm1").create()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pvc.errors import BackendUnavailable, ExecutionError
from pvc.execution.resources import Resources
from pvc.virt.errors import DomainNotFound, DomainStateError

# libvirt error codes that may mean "the daemon is unreachable" (checked with isAlive()).
_CONNECTION_ERRORS = ("VIR_ERR_INTERNAL_ERROR", "VIR_ERR_NO_CONNECT", "VIR_ERR_INVALID_CONN",
                      "VIR_ERR_SYSTEM_ERROR", "VIR_ERR_RPC")
_ERROR_TYPES: dict[str, type[ExecutionError]] = {
    "VIR_ERR_NO_DOMAIN": DomainNotFound,
    "VIR_ERR_OPERATION_INVALID": DomainStateError,
}


def _import_libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise BackendUnavailable(f"libvirt: the libvirt Python binding is not installed: {exc}") from None
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions; no stderr spam
    return libvirt


def open_uri(uri: str) -> Any:
    """Open ``uri`` or raise BackendUnavailable with the daemon's reason."""
    libvirt = _import_libvirt()
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise BackendUnavailable(f"libvirt: cannot connect to {uri}: {reason(exc)}") from None


def connection(resources: Resources, uri: str) -> Any:
    """The shared connection to ``uri`` in ``resources`` (opened on first use)."""
    return resources.get(f"libvirt:{uri}", lambda: open_uri(uri))


@contextmanager
def libvirt_call(resources: Resources, uri: str, what: str) -> Iterator[Any]:
    """Yield the shared connection to ``uri`` and translate any libvirt error raised inside into
    a typed pvc error; ``what`` completes "virt: cannot <what>: <reason>"."""
    libvirt = _import_libvirt()
    conn = connection(resources, uri)
    try:
        yield conn
    except libvirt.libvirtError as exc:
        if _is_dead(conn):
            resources.drop(f"libvirt:{uri}")
        raise translate(exc, what, uri, conn) from None


def translate(exc: Any, what: str, uri: str, conn: Any) -> ExecutionError:
    """Map one libvirtError to the pvc error an operator sees."""
    libvirt = _import_libvirt()
    code = exc.get_error_code()
    if any(code == getattr(libvirt, name) for name in _CONNECTION_ERRORS) and _is_dead(conn):
        return BackendUnavailable(f"libvirt: cannot connect to {uri}: {reason(exc)}")
    kind = next((cls for name, cls in _ERROR_TYPES.items() if code == getattr(libvirt, name)), ExecutionError)
    return kind(f"virt: cannot {what}: {reason(exc)}")


def _is_dead(conn: Any) -> bool:
    try:
        return not conn.isAlive()
    except Exception:  # noqa: BLE001 - a broken handle is a dead one
        return True


def reason(exc: Any) -> str:
    return (exc.get_error_message() or str(exc)).strip()
