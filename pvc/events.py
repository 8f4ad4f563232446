"""Every event tag pvc fires, the event record, and what a minion may fire.

One place builds tags, so a listener, a reactor and the master's allow-list agree on them.
Tags in use::

    pvc/auth                            {id, status}
    pvc/master/enrolment                counts since the master started (EnrolmentStats), when changed
    pvc/minion/<id>/start|stop          the master, when a session begins or ends
    pvc/job/<jid>/new                   {fun, tgt, tgt_type, minions}
    pvc/job/<jid>/ret/<id>              {id, ok, data, error, error_type, duration}
    pvc/vm/<name>/<what>                a minion, about a VM it runs (started, stopped, ...)
    pvc/virt/<id>/connected             a minion, about its own libvirt connection
    pvc/beacon/<id>/<name>              a minion, about itself
    pvc/node/<id>/<what>                the cluster layer only (dead, fenced, ...)
    pvc/reactor/<rule>/<what>           the reactor, for each action it took (job, runner, ...)

A minion may fire only ``pvc/vm/<name>/...`` for a VM it runs, and tags under its own id in
``pvc/minion/``, ``pvc/virt/`` and ``pvc/beacon/``; everything else (auth, jobs, nodes) is the
master's or the cluster layer's to say.

Example::

    from pvc import events
    events.vm("web1", "started")                # "pvc/vm/web1/started"
    events.minion_may_fire("hv1", "pvc/virt/hv1/connected", owns_vm=lambda n: False)   # True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AUTH = "pvc/auth"
ENROLMENT = "pvc/master/enrolment"
MAX_TAG = 512
# parts of a tag between slashes: no empty part, no control characters, bounded
_PART_MAX = 128


def minion(mid: str, what: str) -> str:
    return f"pvc/minion/{mid}/{what}"


def job_new(jid: str) -> str:
    return f"pvc/job/{jid}/new"


def job_ret(jid: str, mid: str) -> str:
    return f"pvc/job/{jid}/ret/{mid}"


def vm(name: str, what: str) -> str:
    return f"pvc/vm/{name}/{what}"


def virt_connected(mid: str) -> str:
    return f"pvc/virt/{mid}/connected"


def beacon(mid: str, name: str) -> str:
    return f"pvc/beacon/{mid}/{name}"


def node(mid: str, what: str) -> str:
    return f"pvc/node/{mid}/{what}"


def reactor(rule: str, what: str) -> str:
    return f"pvc/reactor/{rule}/{what}"


@dataclass(frozen=True)
class Event:
    """One event on the bus: its tag, its data (plain, JSON-able) and when it was fired."""

    tag: str
    data: dict[str, Any]
    ts: float


def well_formed(tag: str) -> bool:
    """A tag is ``pvc/`` and slash-separated printable parts, none empty, bounded in length."""
    if not isinstance(tag, str) or len(tag) > MAX_TAG or not tag.startswith("pvc/"):
        return False
    parts = tag.split("/")
    return all(0 < len(p) <= _PART_MAX and p.isprintable() for p in parts)


def minion_may_fire(mid: str, tag: str, owns_vm: Callable[[str], bool]) -> bool:
    """Whether minion ``mid`` may fire ``tag``: about itself, or about a VM it runs.

    ``owns_vm(name)`` answers whether ``name`` runs on (or is held by) this minion; the master
    decides that from what it knows, never from the event itself.
    """
    if not well_formed(tag):
        return False
    parts = tag.split("/")
    if len(parts) < 4:
        return False
    area, subject = parts[1], parts[2]
    if area in ("minion", "virt", "beacon"):
        return subject == mid
    if area == "vm":
        return owns_vm(subject)
    return False
