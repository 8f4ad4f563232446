"""FRR for the ``frr`` module: typed BGP/EVPN settings, the frr.conf template, and vtysh.

``settings`` validates structured data, ``render`` turns it into frr.conf with its Jinja2 template,
``vtysh`` validates, applies (frr-reload.py) and reads JSON state.
"""
