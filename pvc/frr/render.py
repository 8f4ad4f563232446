"""Render frr.conf from :class:`BgpSettings` with a Jinja2 template.

The template lives here, as a string: one file to read, nothing to package beside the code.

Example::

    text = render(BgpSettings.of({"asn": 65000, "router_id": "10.0.12.1"}))
    text.splitlines()[3]   # 'router bgp 65000'
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pvc.frr.settings import BgpSettings

TEMPLATE = """\
! rendered by pvc (frr module); changes made here are overwritten
frr defaults traditional
hostname {{ hostname }}
{% if s.log_file %}
log file {{ s.log_file }}
{% endif %}
!
router bgp {{ s.asn }}
 bgp router-id {{ s.router_id }}
{% if not s.ebgp_requires_policy %}
 no bgp ebgp-requires-policy
{% endif %}
 timers bgp {{ s.keepalive }} {{ s.holdtime }}
{% for p in s.peers %}
 neighbor {{ p.address }} remote-as {{ p.remote_as }}
{% if p.description %}
 neighbor {{ p.address }} description {{ p.description }}
{% endif %}
 neighbor {{ p.address }} timers connect {{ p.connect_timer }}
{% endfor %}
{% if s.evpn %}
 !
 address-family l2vpn evpn
{% for p in s.peers %}
  neighbor {{ p.address }} activate
{% endfor %}
{% if s.advertise_all_vni %}
  advertise-all-vni
{% endif %}
 exit-address-family
{% endif %}
exit
!
"""


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    return env.from_string(TEMPLATE)


def render(settings: BgpSettings) -> str:
    """frr.conf for ``settings``. The host name is the node's own: vtysh reports that one in the
    running config, so any other would show up as a difference on every reload."""
    return str(_template().render(s=settings, hostname=os.uname().nodename))
