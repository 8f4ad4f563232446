"""What can go wrong when pvc talks to a node's BMC, as exceptions a fencer can act on.

The three kinds answer the fencer's one question, "may I try again?": an unreachable BMC may
answer later (retry, with backoff); a refused login will be refused again (a wrong password or
user: retrying only risks locking the account); a refused or garbled command says this BMC cannot
do what was asked. Every message is one line and names the BMC (``user@host:port``), never the
password. All are rooted at :class:`pvc.errors.PvcError`.

Example::

    try:
        bmc.power_off()
    except BmcAuthFailed as exc:
        mark_fence_failed(node, str(exc))  # "BMC admin@10.0.0.5:623: login refused ..."
"""

from __future__ import annotations

from pvc.errors import ConfigError, PvcError


class BmcError(PvcError):
    """Root of every BMC failure; ``str(err)`` is one line naming the BMC."""


class BmcConfigError(BmcError, ConfigError):
    """A node's ``bmc`` section is missing, ill-typed, or names an unsafe password file."""


class BmcUnreachable(BmcError, ConnectionError):
    """No IPMI session could be opened: no answer, no route, or no answer before the deadline.
    Transient as far as we know: retried by the :class:`~pvc.ipmi.retry.RetryPolicy`."""


class BmcAuthFailed(BmcError, PermissionError):
    """The BMC answered and refused the login (wrong password or unknown user). Never retried."""


class BmcCommandFailed(BmcError):
    """The session opened but the command was refused, failed, or answered with garbage."""
