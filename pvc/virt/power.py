"""Stopping a domain and removing its definition, shared by ``virt.*`` functions and migration.

Graceful shutdown has a deadline: ACPI power button first, ``destroy`` only when allowed.
libvirt's ``shutdown()`` only *asks* the guest; a guest without an OS (or a hung one) never
stops, so the wait is bounded.

Example::

    how = shutdown(dom, timeout=60, force=True)   # "acpi" or "destroyed"
"""

from __future__ import annotations

import time
from typing import Any

from pvc.errors import CommandTimeout

POLL_S = 0.1


def wait_inactive(dom: Any, timeout: float) -> bool:
    """Poll until the domain is shut off; False if still active after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while dom.isActive():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def shutdown(dom: Any, timeout: float, force: bool) -> str:
    """Stop ``dom``: "acpi" when the guest obeyed in time, "destroyed" when forced, else CommandTimeout."""
    if not dom.isActive():
        return "already stopped"
    dom.shutdown()
    if wait_inactive(dom, timeout):
        return "acpi"
    if not force:
        raise CommandTimeout(
            f"virt: {dom.name()} did not shut down within {timeout:g}s (ACPI); pass force=True to destroy it"
        )
    dom.destroy()
    return "destroyed"


def undefine(dom: Any) -> None:
    """Remove a domain's definition with its managed-save image and snapshot metadata (which plain
    ``undefine()`` refuses to leave behind); its disks stay."""
    import libvirt

    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
