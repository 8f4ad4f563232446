"""FRR for the ``frr`` module: typed BGP/EVPN settings, the frr.conf template, and vtysh.

``settings`` validates structured data, ``render`` turns it into frr.conf with ``frr.conf.j2``,
``vtysh`` validates, applies (frr-reload.py) and reads JSON state.
"""
