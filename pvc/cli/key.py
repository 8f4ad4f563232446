"""``pvc key``: the master's minion keys (like ``salt-key``).

Works on the key files directly, so it also works while the master is down; when the master
is running it is told, and deleting or rejecting an accepted key makes it rotate the session
key at once (the removed minion cannot read the next publication).
"""

from __future__ import annotations

import json

import click

from pvc.cli.options import config_dir
from pvc.errors import KeyStateError


def _store(config_dir: str):  # type: ignore[no-untyped-def]
    from pvc.config import load_master
    from pvc.master.keystore import KeyStore

    cfg = load_master(config_dir)
    return cfg, KeyStore(cfg.pki_dir)


def _notify(cfg) -> None:  # type: ignore[no-untyped-def]
    from pvc.client import Client
    from pvc.errors import MasterUnreachable

    try:
        with Client(config=cfg, connect_timeout=3.0) as client:
            revoked = client.keys_changed()
    except MasterUnreachable:
        return
    if revoked:
        click.echo(f"Master rotated the session key; revoked: {', '.join(revoked)}")


@click.group()
def key() -> None:
    """Manage minion keys: pending keys must be accepted before a minion gets jobs.

    \b
    Examples:
      pvc key list                 all keys by state
      pvc key accept 'hv*' --yes   accept pending keys matching a glob
      pvc key finger hv1           fingerprint, to compare with the minion's
      pvc key finger --local       on the minion host: its own key's fingerprint
      pvc key delete hv3 --yes     revoke: hv3 can read no later publication
    """


@key.command("list")
@config_dir
@click.argument("pattern", default="*")
@click.option("--out", type=click.Choice(["human", "json"]), default="human", show_default=True)
def list_(config_dir: str, pattern: str, out: str) -> None:
    """List keys matching PATTERN (glob), grouped by state."""
    from pvc.master.keystore import STATE_DIRS

    _, store = _store(config_dir)
    keys = store.find(pattern)
    grouped = {state: [k.id for k in keys if k.state == state] for state in STATE_DIRS}
    if out == "json":
        click.echo(json.dumps(grouped, indent=2))
        return
    titles = {"accepted": "Accepted Keys:", "pending": "Unaccepted Keys:", "rejected": "Rejected Keys:",
              "denied": "Denied Keys:"}
    for state, ids in grouped.items():
        click.echo(click.style(titles[state], bold=True))
        for mid in ids:
            click.echo(mid)


def _change(config_dir: str, pattern: str, yes: bool, verb: str, states: tuple[str, ...], apply) -> None:  # type: ignore[no-untyped-def]
    cfg, store = _store(config_dir)
    ids = sorted({k.id for k in store.find(pattern, states)})
    if not ids:
        raise KeyStateError(f"no {'/'.join(states)} key matches '{pattern}'")
    click.echo(f"The following keys are going to be {verb}:")
    for mid in ids:
        click.echo(f"  {mid}")
    if not yes and not click.confirm("Proceed?", default=False):
        click.echo("Nothing done.")
        raise SystemExit(1)
    for mid in apply(store, pattern):
        click.echo(f"Key for minion {mid} {verb}.")
    _notify(cfg)


yes_opt = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")


@key.command()
@config_dir
@click.argument("pattern")
@click.option("--include-rejected", is_flag=True, help="Also accept rejected keys.")
@click.option("--finger", default=None, metavar="FP",
              help="Accept only the key with this fingerprint (the one `pvc key finger --local` showed on the "
                   "minion): a different key offered under the same id is never accepted by mistake.")
@yes_opt
def accept(config_dir: str, pattern: str, include_rejected: bool, finger: str | None, yes: bool) -> None:
    """Accept pending keys matching PATTERN."""
    states = ("pending", "rejected") if include_rejected else ("pending",)
    _change(config_dir, pattern, yes, "accepted", states, lambda s, p: s.accept(p, include_rejected, finger))


@key.command()
@config_dir
@click.argument("pattern")
@click.option("--include-accepted", is_flag=True, help="Also reject accepted keys (revokes them).")
@yes_opt
def reject(config_dir: str, pattern: str, include_accepted: bool, yes: bool) -> None:
    """Reject pending keys matching PATTERN."""
    states = ("pending", "accepted") if include_accepted else ("pending",)
    _change(config_dir, pattern, yes, "rejected", states, lambda s, p: s.reject(p, include_accepted))


@key.command(short_help="Delete keys matching PATTERN in any state.")
@config_dir
@click.argument("pattern")
@yes_opt
def delete(config_dir: str, pattern: str, yes: bool) -> None:
    """Delete keys matching PATTERN in any state (an accepted minion is revoked at once)."""
    _change(config_dir, pattern, yes, "deleted", ("accepted", "pending", "rejected", "denied"),
            lambda s, p: s.delete(p))


@key.command(short_help="Print key fingerprints (--local: this minion's).")
@config_dir
@click.argument("pattern", default="*")
@click.option("--local", is_flag=True,
              help="Print this host's minion key fingerprint (reads DIR/minion), to compare with the master's list.")
def finger(config_dir: str, pattern: str, local: bool) -> None:
    """Print SHA-256 fingerprints of the master key and of minion keys matching PATTERN.

    Compare a minion's with what `pvc key finger --local` shows on the minion host, before
    accepting it; put the master's into the minions' ``master_finger`` to pin it before
    first contact.
    """
    import os

    if local:
        from pvc.config import load_minion

        cfg = load_minion(config_dir)
        path = os.path.join(cfg.pki_dir, "minion.pub")
        finger = _file_finger(path)
        if finger is None:
            raise KeyStateError(f"no minion key at {path}: the minion creates it on its first start")
        click.echo(f"Local Keys:\nminion.pub ({cfg.id}):  {finger}")
        return
    cfg, store = _store(config_dir)
    master_finger = _file_finger(os.path.join(cfg.pki_dir, "master.pub"))
    if master_finger is not None:
        click.echo(f"Local Keys:\nmaster.pub:  {master_finger}")
    else:
        click.echo("Local Keys: (the master has not started yet, so it has no key)")
    for info in store.require(pattern):
        click.echo(f"{info.id} ({info.state}):  {info.finger}")


def _file_finger(path: str) -> str | None:
    """The fingerprint of the public key file at ``path`` (see pvc.keys), None if absent."""
    from pvc.crypto import fingerprint
    from pvc.keys import raw_from_pem

    try:
        with open(path, "rb") as fh:
            return fingerprint(raw_from_pem(fh.read(), path))
    except FileNotFoundError:
        return None
