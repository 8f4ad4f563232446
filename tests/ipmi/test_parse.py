"""The parsers over real ipmitool answers and hostile ones: case and spacing never matter,
garbage is UNKNOWN, and nothing but an explicit whole-line state is ever OFF."""

from __future__ import annotations

import pytest

from pvc.ipmi.errors import BmcAuthFailed, BmcCommandFailed, BmcUnreachable
from pvc.ipmi.parse import PowerState, classify_failure, control_acknowledged, parse_status, reason

ON, OFF, UNKNOWN = PowerState.ON, PowerState.OFF, PowerState.UNKNOWN

STATUS = [
    ("Chassis Power is off\n", OFF),                       # ipmitool 1.8.19
    ("Chassis Power is on\n", ON),
    ("chassis power is OFF", OFF),                          # other firmware / casing
    ("CHASSIS POWER IS ON\r\n", ON),
    ("  Chassis   Power  is\toff  \n", OFF),                # extra whitespace
    ("\n\nChassis Power is off\n\n", OFF),
    ("Loading IANA PEN Registry...\nChassis Power is on\n", ON),
    ("System Power         : off\nPower Overload       : false\n", OFF),   # `chassis status`
    ("System Power : ON\n", ON),
    ("", UNKNOWN),
    ("\n \n", UNKNOWN),
    ("Chassis Power is offline\n", UNKNOWN),                # not "off"
    ("Chassis Power is off?\n", UNKNOWN),
    ("Chassis Power is not off\n", UNKNOWN),
    ("Chassis Power is unknown\n", UNKNOWN),
    ("Chassis Power is\n", UNKNOWN),
    ("off\n", UNKNOWN),                                     # a bare word proves nothing
    ("power off\n", UNKNOWN),
    ("Error: Chassis Power is off failed\n", UNKNOWN),
    ("Chassis Power Control: Down/Off\n", UNKNOWN),         # an order's acknowledgement, not a reading
    ("Chassis Power is on\nChassis Power is off\n", UNKNOWN),  # contradicts itself
    ("Chassis Power is off\nSystem Power : on\n", UNKNOWN),
    ("Chassis Power is off\nChassis Power is OFF\n", OFF),  # repeats itself: still one state
    ("Chassis Power is off\x00\n", UNKNOWN),
    ("Chassis Power is \u043eff\n", UNKNOWN),               # Cyrillic o
    ("\ufffd\ufffd\x1b[31m garbage", UNKNOWN),
    ("Chassis Power is off" * 50, UNKNOWN),
]


@pytest.mark.parametrize(("output", "state"), STATUS)
def test_status(output: str, state: PowerState) -> None:
    assert parse_status(output) is state


@pytest.mark.parametrize(("output", "action", "ok"), [
    ("Chassis Power Control: Down/Off\n", "off", True),
    ("chassis power control:   down/OFF ", "off", True),
    ("Chassis Power Control: Up/On\n", "on", True),
    ("Chassis Power Control: Cycle\n", "cycle", True),
    ("Chassis Power Control: Up/On\n", "off", False),
    ("Chassis Power Control: Down/Off\nChassis Power Control: Up/On\n", "off", False),
    ("", "off", False),
    ("Chassis Power is off\n", "off", False),
    ("Set Chassis Power Control to Down/Off failed: Invalid data field in request", "off", False),
])
def test_control_acknowledged(output: str, action: str, ok: bool) -> None:
    assert control_acknowledged(output, action) is ok


@pytest.mark.parametrize(("stderr", "cls"), [
    # lanplus, wrong password / unknown user (ipmitool -v against ipmi_sim)
    ("Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n",
     BmcAuthFailed),
    ("RAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session\n",
     BmcAuthFailed),
    # lan (IPMI 1.5)
    ("Activate Session command failed\nError: Unable to establish LAN session\n", BmcAuthFailed),
    ("Invalid user name\nError: Unable to establish LAN session\n", BmcAuthFailed),
    # no answer, no route, no name
    (("Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\n"
     "Error: Unable to establish IPMI v2 / RMCP+ session\n"), BmcUnreachable),
    ("Address lookup for nosuchhost.invalid failed\nCould not open socket!\n", BmcUnreachable),
    ("Error: Unable to establish IPMI v2 / RMCP+ session\n", BmcUnreachable),   # without -v: assume transient
    ("RAKP 2 message indicates an error : insufficient resources for session\n", BmcUnreachable),
    # the session worked, the command did not
    ("Set Chassis Power Control to Down/Off failed: Invalid data field in request\n", BmcCommandFailed),
    ("Invalid chassis power command: frob\n", BmcCommandFailed),
    ("", BmcCommandFailed),
])
def test_classify_failure(stderr: str, cls: type) -> None:
    assert classify_failure(stderr) is cls


def test_reason_skips_verbose_chatter_and_is_one_short_line() -> None:
    stderr = ("Loading IANA PEN Registry...\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\n"
              "> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n")
    assert reason(stderr) == "RAKP 2 HMAC is invalid"
    assert reason("") == "no output"
    long = reason("x" * 1000)
    assert len(long) == 160 and "\n" not in long
