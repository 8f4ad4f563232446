"""One exception root for everything pvc raises on purpose.

Each subclass names a failure an operator can act on; where it helps callers, a subclass also
mixes in the matching builtin (``InvalidArgument(PvcError, ValueError)``) so generic code keeps
working. The CLI turns any ``PvcError`` into a one-line message and a non-zero exit code; a
traceback means a bug, never bad input.
"""

from __future__ import annotations


class PvcError(Exception):
    """Root of all deliberate pvc errors. ``str(err)`` is the message shown to the operator."""


class ConfigError(PvcError, ValueError):
    """A config file is missing, unreadable, or has an unknown or ill-typed option."""


class InvalidArgument(PvcError, ValueError):
    """Input from an operator or a peer does not have the required shape."""


class InvalidMinionId(InvalidArgument):
    """A minion id is empty, too long, or contains characters outside the safe set."""


class InvalidTarget(InvalidArgument):
    """A target expression cannot be parsed."""


class ExecutionError(PvcError):
    """An execution module function failed; the message says why in operator terms."""


class UnknownFunction(ExecutionError, LookupError):
    """The requested ``module.function`` is not registered (or not available on this minion)."""


class BackendUnavailable(ExecutionError):
    """A backend a function needs (libvirt, rados, vtysh, ...) is missing or unreachable."""


class CommandTimeout(ExecutionError, TimeoutError):
    """A subprocess or backend call exceeded its deadline."""


class CommandNotFound(ExecutionError, FileNotFoundError):
    """The executable a function was asked to run does not exist on this minion."""


class ProtocolError(PvcError):
    """A wire message is malformed, oversized, of an unknown kind, or of another version."""


class AuthError(PvcError):
    """Signature, AEAD tag, key pinning or key-state check failed. Never swallowed silently."""


class ReplayError(AuthError):
    """A publication was seen before or lies outside the timestamp window."""


class KeyStateError(PvcError):
    """A key operation is not possible in the key's current state (e.g. accept a missing key)."""


class MasterUnreachable(PvcError, ConnectionError):
    """The local master socket is absent or the master did not answer in time."""


class JobNotFound(PvcError, LookupError):
    """No job with that jid in the job cache (never run, or pruned after keep_jobs hours)."""


class JobCacheError(PvcError):
    """The job cache (SQLite or PostgreSQL) cannot be opened or written."""

