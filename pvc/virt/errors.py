"""Errors of the virt module, each one an operator can act on."""

from __future__ import annotations

from pvc.errors import ExecutionError, InvalidArgument


class DomainNotFound(ExecutionError, LookupError):
    """No domain of that name on this node's libvirt (``virt: no domain named 'vm1' on qemu:///system``)."""


class DomainStateError(ExecutionError):
    """The domain is not in a state that allows the operation (start a running VM, ...)."""


class InvalidDomainSpec(InvalidArgument):
    """A typed VM spec or domain XML given to ``virt.define`` is malformed."""


class MigrationFailed(ExecutionError):
    """A migration failed after all retries and no fallback was allowed (or the fallback failed too)."""


class MigrationTimeout(MigrationFailed, TimeoutError):
    """One live attempt ran past the migration timeout and was aborted (counts as a failed attempt)."""
