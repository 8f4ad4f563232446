"""One libvirt connection per minion and URI, and libvirt errors turned into pvc errors.

The connection lives in the minion's resource cache (``libvirt:<uri>``) so every job reuses it;
when a call fails because the daemon went away, the handle is dropped and the next job reopens
it. libvirt error codes map to typed errors by table, not by string matching.

Example::

    with libvirt_call(ctx, "start vm1") as conn:
        conn.lookupByName("vm1").create()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pvc.errors import BackendUnavailable, ExecutionError
from pvc.modules.context import ExecContext
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


def connection(ctx: ExecContext) -> Any:
    """The minion's shared connection to ``ctx.config.uri`` (opened on first use)."""
    uri = ctx.config.uri
    return ctx.resource(f"libvirt:{uri}", lambda: open_uri(uri))


@contextmanager
def libvirt_call(ctx: ExecContext, what: str, uri: str | None = None) -> Iterator[Any]:
    """Yield a connection and translate any libvirt error raised inside into a typed pvc error.

    ``what`` completes "virt: cannot <what>: <reason>". With ``uri`` a private connection to that
    URI is opened and closed (used for a migration target); otherwise the shared one is used.
    """
    libvirt = _import_libvirt()
    target = uri or ctx.config.uri
    conn = open_uri(uri) if uri else connection(ctx)
    try:
        yield conn
    except libvirt.libvirtError as exc:
        if _is_dead(conn) and not uri:
            ctx.resources.drop(f"libvirt:{target}")
        raise translate(exc, what, target, conn) from None
    finally:
        if uri:
            _close_quietly(conn)


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


def _close_quietly(conn: Any) -> None:
    with suppress(Exception):  # closing a broken connection must not mask the real error
        conn.close()
