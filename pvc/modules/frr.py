"""The ``frr`` module: BGP/EVPN config rendered from structured data, applied by reload, and
state read back from vtysh JSON.

``apply`` renders frr.conf (the Jinja2 template in ``pvc/frr/render.py``), checks it with vtysh,
asks frr-reload.py what would change, and only then reloads; an identical second call finds no
difference and says so. FRR itself runs as the ``frr`` user (its packaging's service, or one
instance per namespace with its own vty socket directory: set ``vty_socket`` or ``pathspace``).

Example::

    pvc call frr.apply asn=65000 router_id=10.0.12.1 peers='[{address: 10.0.12.2, remote_as: 65000}]'
    pvc call frr.evpn_vni
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pvc.errors import ExecutionError
from pvc.execution.context import ExecContext
from pvc.execution.registry import ModuleSpec
from pvc.frr.render import render as render_conf
from pvc.frr.settings import BgpSettings
from pvc.frr.vtysh import FrrPaths, Vtysh

FrrConfig = FrrPaths  # the module's config section: where the instance's files and sockets are


def _settings(asn: int, router_id: str, peers: Sequence[Mapping[str, Any]] | None,
              options: Mapping[str, Any]) -> BgpSettings:
    return BgpSettings.of({"asn": asn, "router_id": router_id, "peers": list(peers or ()), **options})


def _write_candidate(ctx: ExecContext, text: str) -> str:
    """Write ``text`` beside frr.conf, owned and moded like it (packaged: frr:frr 0640; new: the
    directory's owner, 0640), so the frr user can still read it and it never turns world-readable."""
    config_dir = ctx.config.config_dir
    path = os.path.join(config_dir, "frr.conf.pvc-new")
    try:
        like = os.stat(os.path.join(config_dir, "frr.conf"))
        mode = like.st_mode & 0o7777
    except FileNotFoundError:
        like, mode = None, 0o640
    try:
        like = like or os.stat(config_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            os.fchown(fd, like.st_uid, like.st_gid)
            os.fchmod(fd, mode)
            fh.write(text)
    except OSError as exc:
        raise ExecutionError(f"frr: cannot write {path}: {exc.strerror}") from None
    return path


def render(ctx: ExecContext, asn: int, router_id: str, peers: Sequence[Mapping[str, Any]] | None = None,
           **options: Any) -> str:
    """The frr.conf text for these settings (nothing is written or applied). Options: ``evpn``,
    ``advertise_all_vni``, ``keepalive``, ``holdtime``, ``ebgp_requires_policy``,
    ``log_file``; each peer: ``address``, ``remote_as``, ``description``, ``connect_timer``.

    Example: ``pvc call frr.render asn=65000 router_id=10.0.12.1``
    """
    return render_conf(_settings(asn, router_id, peers, options))


def validate(ctx: ExecContext, asn: int, router_id: str, peers: Sequence[Mapping[str, Any]] | None = None,
             **options: Any) -> dict[str, Any]:
    """Render and check the config with vtysh's parser, without applying it.

    Example: ``pvc call frr.validate asn=65000 router_id=10.0.12.1``
    """
    path = _write_candidate(ctx, render(ctx, asn, router_id, peers, **options))
    try:
        Vtysh(ctx.config).validate(path)
    finally:
        os.unlink(path)
    return {"valid": True}


def apply(ctx: ExecContext, asn: int, router_id: str, peers: Sequence[Mapping[str, Any]] | None = None,
          **options: Any) -> dict[str, Any]:
    """Render, validate, and apply by reload (only the difference to the running config is sent).
    Returns the lines deleted and added; with ``test=True`` only what would change.

    Example: ``pvc call frr.apply asn=65000 router_id=10.0.12.1 peers='[{address: 10.0.12.2, remote_as: 65000}]'``
    """
    text = render(ctx, asn, router_id, peers, **options)
    sh = Vtysh(ctx.config)
    candidate = _write_candidate(ctx, text)
    try:
        sh.validate(candidate)
        diff = sh.diff(candidate)
        changes = {"delete": list(diff.delete), "add": list(diff.add)}
        if not diff:
            return {"changed": False, "changes": changes, "comment": "FRR already runs this config; nothing changed"}
        if ctx.test:
            return {"changed": False, "test": True, "changes": changes,
                    "comment": f"would delete {len(diff.delete)} and add {len(diff.add)} config lines"}
        target = os.path.join(ctx.config.config_dir, "frr.conf")
        os.replace(candidate, target)
        sh.reload(target)
    finally:
        if os.path.exists(candidate):
            os.unlink(candidate)
    return {"changed": True, "changes": changes,
            "comment": f"reloaded: deleted {len(diff.delete)} and added {len(diff.add)} config lines"}


def bgp_summary(ctx: ExecContext) -> Any:
    """``show bgp summary json``: per address family (``ipv4Unicast``, ``l2VpnEvpn``) the peers and their state.

    Example: ``pvc call frr.bgp_summary``
    """
    return Vtysh(ctx.config).json("show bgp summary json")


def evpn_vni(ctx: ExecContext, vni: int | None = None) -> Any:
    """``show evpn vni json``: each VNI with its VXLAN interface and remote VTEPs (one VNI in detail if given).

    Example: ``pvc call frr.evpn_vni``
    """
    return Vtysh(ctx.config).json("show evpn vni json" if vni is None else f"show evpn vni {vni} json")


def routes(ctx: ExecContext, ipv6: bool = False) -> Any:
    """``show ip route json`` (or ``show ipv6 route json``): the routing table zebra knows.

    Example: ``pvc call frr.routes``
    """
    return Vtysh(ctx.config).json("show ipv6 route json" if ipv6 else "show ip route json")


def running_config(ctx: ExecContext) -> str:
    """``show running-config`` as text.

    Example: ``pvc call frr.running_config``
    """
    return Vtysh(ctx.config).text("show running-config")


SPEC = ModuleSpec(
    "frr",
    functions=(render, validate, apply, bgp_summary, evpn_vni, routes, running_config),
    config=FrrConfig,
)
