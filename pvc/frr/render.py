"""Render frr.conf from :class:`BgpSettings` with the packaged Jinja2 template.

Example::

    text = render(BgpSettings.of({"asn": 65000, "router_id": "10.0.12.1"}))
    text.splitlines()[3]   # 'router bgp 65000'
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pvc.frr.settings import BgpSettings


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("pvc.frr", "."), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.get_template("frr.conf.j2")


def render(settings: BgpSettings) -> str:
    """frr.conf for ``settings``. The host name is the node's own: vtysh reports that one in the
    running config, so any other would show up as a difference on every reload."""
    return str(_template().render(s=settings, hostname=os.uname().nodename))
