"""BMC power control for fencing: a typed target, an ipmitool adapter, and a confirmed power-off.

Case-insensitive, bounded, and with the credential only in a private file (never in argv, never in
ZooKeeper). Layout: :mod:`.target` (config → :class:`BmcTarget`), :mod:`.parse` (pure parsers),
:mod:`.retry` (:class:`RetryPolicy`), :mod:`.ipmitool` (:class:`Bmc`), :mod:`.fence`
(:func:`confirm_off` → :class:`FenceResult`), :mod:`.errors`.

Example::

    from pvc.ipmi import Bmc, confirm_off, load_target

    bmc = Bmc(load_target(node_config, where="node hv1"))
    result = confirm_off(bmc, deadline=10, poll=0.25)
    result.confirmed, result.state, result.elapsed     # (True, PowerState.OFF, 0.31)
"""

from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcConfigError, BmcError, BmcUnreachable
from pvc.ipmi.fence import FenceNotConfirmed, FenceResult, PowerControl, confirm_off
from pvc.ipmi.ipmitool import Bmc
from pvc.ipmi.parse import PowerState, parse_status
from pvc.ipmi.retry import RetryPolicy
from pvc.ipmi.target import BmcTarget, load_target, target_from_mapping

__all__ = [
    "Bmc", "BmcAuthFailed", "BmcCommandFailed", "BmcConfigError", "BmcError", "BmcTarget", "BmcUnreachable",
    "FenceNotConfirmed", "FenceResult", "PowerControl", "PowerState", "RetryPolicy", "confirm_off",
    "load_target", "parse_status", "target_from_mapping",
]
