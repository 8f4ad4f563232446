"""librados/librbd failures as typed pvc errors with messages an operator can act on.

Both bindings raise ``OSError`` subclasses carrying a (positive) ``errno``; mon commands return
a negative errno. One table maps errno to the pvc error class and the reason shown, so every
call site only names what it was doing.

Example::

    raise translate(errno.ENOTEMPTY, "remove image rbd/vm1")
    # ImageHasSnapshots("ceph: cannot remove image rbd/vm1: it has snapshots; remove them first")
"""

from __future__ import annotations

import errno

from pvc.errors import BackendUnavailable, ExecutionError, InvalidArgument, PvcError


class CephError(ExecutionError):
    """A Ceph operation failed for a reason not covered by a more precise subclass."""


class CephNotFound(CephError, LookupError):
    """The pool, image or snapshot named does not exist."""


class CephExists(CephError, FileExistsError):
    """A pool, image or snapshot with that name already exists."""


class ImageBusy(CephError):
    """An image is in use (open by a client, or a protected snapshot still has clones)."""


class ImageHasSnapshots(CephError):
    """An image cannot be removed while it has snapshots."""


class CephPermissionDenied(CephError, PermissionError):
    """The configured client's caps do not allow the operation."""


class CephUnreachable(BackendUnavailable):
    """The cluster did not answer within the configured timeout; the connection is dropped."""


UNREACHABLE = frozenset({errno.ETIMEDOUT, errno.ESHUTDOWN, errno.ENOTCONN, errno.ECONNREFUSED})

REASONS: dict[int, tuple[type[PvcError], str]] = {
    errno.ENOENT: (CephNotFound, "it does not exist"),
    errno.EEXIST: (CephExists, "it already exists"),
    errno.EBUSY: (ImageBusy, "it is busy (open by a client, or a protected snapshot with clones)"),
    errno.ENOTEMPTY: (ImageHasSnapshots, "it has snapshots; remove them first"),
    errno.EINVAL: (InvalidArgument, "invalid argument"),
    errno.EPERM: (CephPermissionDenied, "operation not permitted"),
    errno.EACCES: (CephPermissionDenied, "permission denied for this client"),
    errno.EROFS: (CephError, "it is read-only"),
    errno.ENOSPC: (CephError, "the cluster is out of space"),
    errno.EDQUOT: (CephError, "the pool quota is exceeded"),
}


def errno_of(exc: BaseException) -> int:
    """The positive errno of a rados/rbd exception (0 if it carries none)."""
    code = getattr(exc, "errno", None)
    return abs(code) if isinstance(code, int) else 0


def translate(code: int, action: str, detail: str = "") -> PvcError:
    """The pvc error for errno ``code`` raised while doing ``action`` ("create pool 'vms'")."""
    code = abs(code)
    cls, reason = REASONS.get(code, (CephError, detail or f"error {code} ({errno.errorcode.get(code, '?')})"))
    if detail and code in REASONS and code not in (errno.ENOENT, errno.EEXIST):
        reason = f"{reason}: {detail}"
    return cls(f"ceph: cannot {action}: {reason}")
