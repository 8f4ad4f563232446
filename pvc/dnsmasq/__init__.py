"""dnsmasq for the ``dnsmasq`` module: one instance per managed network.

``config`` validates a network description and renders its config and hosts files, ``leases``
parses the lease file, ``daemon`` starts, signals and stops an instance by the PID it wrote.
"""
