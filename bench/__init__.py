"""Side-by-side benchmark of pvc against real SaltStack (``python -m bench``, ``make bench``).

The package stays import-light on purpose: the Salt driver (``bench.drivers.salt_driver``)
runs under Salt's own venv, which has neither pvc nor matplotlib.
"""
