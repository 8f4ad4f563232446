"""Pure parsers for what ``ipmitool`` prints: power state, control acknowledgements, failures.

Why so careful: PVC compared ``"Chassis Power is off"`` case-sensitively, so a BMC printing
``chassis power is OFF`` was never confirmed off (and a looser ``"off" in output`` would call
``Chassis Power is offline`` or an error message off). Fencing restarts VMs elsewhere only on a
confirmed off, so reading "off" by accident means a VM running twice. Rules here: case and spacing
do not matter, a state counts only as a whole line, two different states in one answer are
:attr:`PowerState.UNKNOWN`, and anything unrecognised is UNKNOWN, never OFF.

Failures are classified by a table of ipmitool's stderr lines (run with ``-v``: without it a wrong
password and a dead BMC print the same line), first match wins, auth before reachability.

Example::

    parse_status("Chassis Power is off\\n")      # PowerState.OFF
    parse_status("chassis   power is  OFF ")     # PowerState.OFF
    parse_status("Chassis Power is offline")     # PowerState.UNKNOWN
    classify_failure("> RAKP 2 HMAC is invalid") # BmcAuthFailed
"""

from __future__ import annotations

import enum
import re

from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcError, BmcUnreachable


class PowerState(enum.Enum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


# ``chassis power status`` ("Chassis Power is off") and ``chassis status`` ("System Power : off")
_STATE_LINES = (
    re.compile(r"^chassis\s+power\s+is\s+(on|off)$", re.IGNORECASE),
    re.compile(r"^system\s+power\s*:\s*(on|off)$", re.IGNORECASE),
)
# what ipmitool prints after the BMC accepted ``chassis power ACTION``
CONTROL_WORDS = {"on": "up/on", "off": "down/off", "cycle": "cycle", "reset": "reset", "soft": "soft"}
_CONTROL_LINE = re.compile(r"^chassis\s+power\s+control\s*:\s*(\S+)$", re.IGNORECASE)

# stderr line pattern -> error class; first match wins (auth before reachability)
FAILURES: tuple[tuple[re.Pattern[str], type[BmcError]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cls) for pattern, cls in (
        (r"RAKP \d HMAC is invalid", BmcAuthFailed),                  # wrong password (lanplus)
        (r"RAKP \d message indicates an error\s*:\s*unauthorized name", BmcAuthFailed),  # unknown user
        (r"RAKP \d message indicates an error\s*:\s*invalid (role|integrity)", BmcAuthFailed),
        (r"invalid integrity check value", BmcAuthFailed),
        (r"Invalid user name", BmcAuthFailed),                        # lan (IPMI 1.5)
        (r"Activate Session command failed", BmcAuthFailed),         # lan: wrong password
        (r"password is invalid|invalid password", BmcAuthFailed),
        (r"insufficient resources for session", BmcUnreachable),     # busy BMC: try again later
        (r"Get Auth Capabilities error", BmcUnreachable),            # no answer
        (r"Get Channel Authentication Capabilities", BmcUnreachable),
        (r"Address lookup for .* failed", BmcUnreachable),
        (r"Could not open socket", BmcUnreachable),
        (r"No response from remote controller", BmcUnreachable),
        (r"Unable to establish (IPMI v[\d.]+ / RMCP\+? |LAN )?session", BmcUnreachable),
    )
)


def parse_status(output: str) -> PowerState:
    """The power state ``output`` states on a line of its own; UNKNOWN unless exactly one state."""
    seen = {m.group(1).lower() for line in _lines(output) for p in _STATE_LINES if (m := p.match(line))}
    if len(seen) != 1:
        return PowerState.UNKNOWN
    return PowerState(seen.pop())


def control_acknowledged(output: str, action: str) -> bool:
    """Whether ``output`` acknowledges ``chassis power ACTION`` (``Chassis Power Control: Down/Off``)."""
    expected = CONTROL_WORDS[action]
    words = {m.group(1).lower() for line in _lines(output) if (m := _CONTROL_LINE.match(line))}
    return words == {expected}


def classify_failure(stderr: str) -> type[BmcError]:
    """The error class for a failed ipmitool call, from its (verbose) stderr."""
    for pattern, cls in FAILURES:
        if pattern.search(stderr):
            return cls
    return BmcCommandFailed


def reason(stderr: str, stdout: str = "", limit: int = 160) -> str:
    """One line for a message: the most telling line of ipmitool's output, without the chatter
    ``-v`` adds, shortened to ``limit`` characters."""
    noise = re.compile(r"^(Loading IANA|Running Get VSO|Invalid completion code received: Invalid command"
                       r"|Discovered IPMB|Password:)", re.IGNORECASE)
    lines = [ln.lstrip("> ") for ln in _lines(stderr + "\n" + stdout) if not noise.match(ln)]
    telling = [ln for ln in lines if any(p.search(ln) for p, _ in FAILURES[:-1])]
    text = (telling or lines or ["no output"])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lines(text: str) -> list[str]:
    """Non-empty lines with inner whitespace collapsed and the ends stripped."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]
