"""Operating-system grains from ``/etc/os-release``, named and valued as Salt does.

``os`` is the distribution's display name (``Debian``, ``Ubuntu``, ``Rocky``), ``os_family`` its
family (``Debian``, ``RedHat``, ``Suse``, ``Arch``...), so ``-G os_family:Debian`` and
``G@os:Debian`` targets written for Salt keep working.

Example::

    parse_os_release('ID=debian\\nVERSION_ID="12"\\nVERSION_CODENAME=bookworm\\n')
    # {"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"}
"""

from __future__ import annotations

import shlex
from typing import Any

from pvc.grains.host import Host

# os-release ID -> Salt's ``os`` grain.
OS_NAMES = {
    "almalinux": "AlmaLinux", "alpine": "Alpine", "amzn": "Amazon", "arch": "Arch",
    "centos": "CentOS", "debian": "Debian", "devuan": "Devuan", "fedora": "Fedora",
    "gentoo": "Gentoo", "linuxmint": "Mint", "ol": "OEL", "opensuse-leap": "Leap",
    "opensuse-tumbleweed": "openSUSE Tumbleweed", "raspbian": "Raspbian", "rhel": "RedHat",
    "rocky": "Rocky", "sles": "SUSE", "ubuntu": "Ubuntu",
}
# Salt's ``os`` grain -> ``os_family``; unknown names fall back to ID_LIKE, then to ``os``.
OS_FAMILIES = {
    "AlmaLinux": "RedHat", "Amazon": "RedHat", "CentOS": "RedHat", "Fedora": "RedHat",
    "OEL": "RedHat", "RedHat": "RedHat", "Rocky": "RedHat", "Debian": "Debian",
    "Devuan": "Debian", "Mint": "Debian", "Raspbian": "Debian", "Ubuntu": "Debian",
    "Leap": "Suse", "openSUSE Tumbleweed": "Suse", "SUSE": "Suse", "Arch": "Arch",
    "Alpine": "Alpine", "Gentoo": "Gentoo",
}


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5) (values may be shell-quoted) as a dict."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        fields[key] = words[0] if words else ""
    return fields


def os_grains(host: Host) -> dict[str, Any]:
    """``os``, ``os_family``, ``osfullname``, ``osrelease``, ``osmajorrelease``, ``oscodename``,
    ``osfinger`` (e.g. ``Debian-12``)."""
    text = host.read("/etc/os-release") or host.read("/usr/lib/os-release")
    if text is None:
        return {}
    rel = parse_os_release(text)
    ident = rel.get("ID", "linux")
    name = OS_NAMES.get(ident) or rel.get("NAME") or ident
    like = [OS_NAMES.get(i) for i in rel.get("ID_LIKE", "").split()]
    family = OS_FAMILIES.get(name) or next((OS_FAMILIES[n] for n in like if n in OS_FAMILIES), name)
    release = rel.get("VERSION_ID", "")
    grains: dict[str, Any] = {
        "os": name,
        "os_family": family,
        "osfullname": rel.get("NAME", name),
        "osrelease": release,
        "oscodename": rel.get("VERSION_CODENAME", ""),
        "osfinger": _finger(name, release),
    }
    major = release.split(".")[0]
    if major.isdigit():
        grains["osmajorrelease"] = int(major)
    return grains


def _finger(name: str, release: str) -> str:
    """Salt's ``osfinger``: the major release, except for Ubuntu (``Ubuntu-22.04``)."""
    if not release:
        return name
    return f"{name}-{release if name == 'Ubuntu' else release.split('.')[0]}"
