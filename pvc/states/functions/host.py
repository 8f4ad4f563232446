"""``host.present``/``host.absent``/``host.only``: entries of the hosts file.

The file is ``/etc/hosts`` unless the minion option ``hosts.file`` (``modules: {config:
{options: {hosts.file: ...}}}``, read with ``config.get`` as Salt reads its option) names
another. Comments and unrelated lines are kept as they are.

Example (SLS)::

    node2.cluster:
      host.present:
        - ip: 10.0.0.12
        - clean: True
"""

from __future__ import annotations

from typing import Any

from pvc.states.context import StateContext
from pvc.states.functions.file_edit import edit
from pvc.states.registry import StateModule
from pvc.states.result import StateResult


def _hosts_file(ctx: StateContext) -> str:
    if ctx.caller is None:
        return "/etc/hosts"
    return str(ctx.call("config.get", "hosts.file", "/etc/hosts"))


def _split(line: str) -> tuple[str, list[str], str] | None:
    """``ip name alias # comment`` -> (ip, names, comment); None for blank and comment lines."""
    body, _, comment = line.partition("#")
    fields = body.split()
    if len(fields) < 1:
        return None
    return fields[0], fields[1:], f"#{comment}" if comment else ""


def _join(ip: str, names: list[str], comment: str) -> str:
    return "\t".join([ip, " ".join(names)]) + (f" {comment}" if comment else "")


def _rewrite(text: str, keep: Any, add: dict[str, list[str]]) -> str:
    """Apply ``keep(ip, names) -> names`` to each entry, then add missing ``{ip: names}``."""
    out = []
    pending = {ip: list(names) for ip, names in add.items()}
    for line in text.splitlines():
        parsed = _split(line)
        if parsed is None:
            out.append(line)
            continue
        ip, names, comment = parsed
        new = keep(ip, names)
        for name in pending.pop(ip, []):
            if name not in new:
                new.append(name)
        if new == names:
            out.append(line)
        elif new:
            out.append(_join(ip, new, comment))
    out.extend(_join(ip, names, "") for ip, names in pending.items() if names)
    return "".join(f"{line}\n" for line in out)


def _ips(ip: Any) -> list[str]:
    return [str(i) for i in (ip if isinstance(ip, list) else [ip])]


def present(ctx: StateContext, name: str, ip: Any, clean: bool = False) -> StateResult:
    """Ensure ``name`` resolves to ``ip`` (one or a list); ``clean`` drops it from other addresses."""
    ips = _ips(ip)
    return edit(ctx, _hosts_file(ctx), lambda text: _rewrite(
        text, lambda i, names: [n for n in names if n != name or i in ips] if clean else list(names),
        {i: [name] for i in ips}))


def absent(ctx: StateContext, name: str, ip: Any) -> StateResult:
    """Ensure ``name`` is not listed for ``ip``."""
    ips = _ips(ip)
    return edit(ctx, _hosts_file(ctx), lambda text: _rewrite(
        text, lambda i, names: [n for n in names if not (n == name and i in ips)], {}))


def only(ctx: StateContext, name: str, hostnames: Any) -> StateResult:
    """Ensure address ``name`` lists exactly ``hostnames`` (in that order)."""
    wanted = [str(h) for h in (hostnames if isinstance(hostnames, list) else [hostnames])]
    return edit(ctx, _hosts_file(ctx), lambda text: _rewrite(
        text, lambda i, names: [] if i == name else list(names), {name: wanted}))


MODULE = StateModule("host", functions=(present, absent, only))
