"""Errors of the runners, rooted at :class:`pvc.errors.PvcError`.

Each names what the operator can act on: an unknown runner, a plan that cannot place every VM
(nothing moved), a VM or node in the wrong state for the request, a job on a node that failed.
"""

from __future__ import annotations

from pvc.errors import InvalidArgument, PvcError, UnknownFunction


class RunnerError(PvcError):
    """Root of the errors raised by :mod:`pvc.runners`."""


class UnknownRunner(RunnerError, UnknownFunction):
    """No runner of that name is registered."""


class RunnerArgumentError(RunnerError, InvalidArgument):
    """A runner was called with arguments its signature does not accept."""


class PlacementError(RunnerError):
    """Some VM fits on no node: the plan names each one and why; nothing was moved."""


class StateError(RunnerError):
    """The VM or node is not in a state that allows the request (e.g. ready on a ready node)."""


class NodeJobFailed(RunnerError):
    """A job on a node failed or got no return: ``node``, ``fun`` and the node's error."""

    def __init__(self, node: str, fun: str, error: str) -> None:
        super().__init__(f"{fun} on {node}: {error}")
        self.node, self.fun, self.error = node, fun, error


class DefinitionError(RunnerError, InvalidArgument):
    """A VM definition (libvirt domain XML) is unreadable or lacks its name, memory or vCPUs."""
