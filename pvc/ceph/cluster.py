"""One librados connection per minion, always bounded by timeouts, and the errors it maps.

librados waits forever by default (and the Pacific binding ignores ``mon_command(timeout=)``),
so every connection sets ``client_mount_timeout``, ``rados_mon_op_timeout`` and
``rados_osd_op_timeout`` to the configured timeout. The handle is shared through the caller's
:class:`~pvc.execution.resources.Resources` (as ``"rados"``); a call that finds the cluster
unreachable drops it, so the next call reconnects instead of reusing a dead handle.

Example::

    with session(resources, CephConfig(conf="/etc/ceph/ceph.conf"), "list pools") as cluster:
        names = cluster.list_pools()
        mon_json(cluster, "osd pool ls", detail="detail")
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pvc.ceph.errors import UNREACHABLE, CephUnreachable, errno_of, translate
from pvc.errors import BackendUnavailable, ConfigError
from pvc.execution.resources import Resources

if TYPE_CHECKING:
    import rados

RESOURCE = "rados"


@dataclass(frozen=True)
class CephConfig:
    """The ``modules: {ceph: ...}`` section of the minion config.

    ``client`` is the cephx entity (``client.admin``); ``keyring`` overrides the conf's keyring;
    ``timeout`` bounds connecting and every mon/OSD operation, in whole seconds (librados
    takes no fractions).
    """

    conf: str = "/etc/ceph/ceph.conf"
    client: str = "client.admin"
    keyring: str | None = None
    timeout: int = 10


def _unreachable(cfg: CephConfig) -> CephUnreachable:
    return CephUnreachable(f"ceph: cannot reach cluster via {cfg.conf} within {cfg.timeout}s")


def connect(cfg: CephConfig) -> rados.Rados:
    """A connected ``rados.Rados`` for ``cfg``, or :class:`BackendUnavailable` saying why not."""
    try:
        import rados
    except ImportError:
        raise BackendUnavailable("ceph: the rados Python binding is not installed (Debian: python3-rados)") from None
    if not os.path.isfile(cfg.conf):
        raise BackendUnavailable(f"ceph: config file {cfg.conf} does not exist")
    if cfg.timeout < 1:
        raise ConfigError(f"minion: modules.ceph: option 'timeout' must be at least 1 second, got {cfg.timeout}")
    seconds = str(cfg.timeout)
    options = {"client_mount_timeout": seconds, "rados_mon_op_timeout": seconds, "rados_osd_op_timeout": seconds}
    if cfg.keyring:
        options["keyring"] = cfg.keyring
    try:
        cluster = rados.Rados(conffile=cfg.conf, name=cfg.client, conf=options)
    except rados.Error as exc:
        raise BackendUnavailable(f"ceph: cannot use {cfg.conf} as {cfg.client}: {exc}") from None
    try:
        cluster.connect(timeout=cfg.timeout)
    except rados.Error as exc:
        cluster.shutdown()
        if errno_of(exc) in UNREACHABLE:
            raise _unreachable(cfg) from None
        raise BackendUnavailable(f"ceph: cannot connect to the cluster via {cfg.conf} as {cfg.client}: {exc}") from None
    return cluster


@contextmanager
def session(resources: Resources, cfg: CephConfig, action: str) -> Iterator[rados.Rados]:
    """The connection for ``cfg`` shared through ``resources``; rados/rbd errors inside become
    pvc errors about ``action``."""
    cluster = resources.get(RESOURCE, lambda: connect(cfg))
    try:
        yield cluster
    except Exception as exc:
        if type(exc).__module__ not in ("rados", "rbd") and not isinstance(exc, TimeoutError):
            raise  # pvc errors and bugs pass through unchanged
        raise _mapped(resources, cfg, exc, action) from None


def _mapped(resources: Resources, cfg: CephConfig, exc: BaseException, action: str) -> Exception:
    code = errno_of(exc)
    if code in UNREACHABLE:
        resources.drop(RESOURCE)
        return _unreachable(cfg)
    return translate(code, action, "" if code else str(exc))


def mon_json(cluster: rados.Rados, prefix: str, action: str = "", **args: Any) -> Any:
    """Run a mon (or mon-forwarded mgr) command with JSON output; a non-zero return raises the
    mapped pvc error (inside :func:`session`, a timeout becomes :class:`CephUnreachable`)."""
    ret, out, err = cluster.mon_command(json.dumps({"prefix": prefix, "format": "json", **args}), b"")
    if ret != 0:
        if abs(ret) in UNREACHABLE:
            raise TimeoutError(abs(ret), err)
        raise translate(ret, action or prefix, err.strip())
    return json.loads(out) if out.strip() else None
