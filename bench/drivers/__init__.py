"""Measurement drivers: one process per system, run under that system's own interpreter.

Each driver owns one API client (pvc's ``Client`` or Salt's ``LocalClient``) and answers the
same operations over JSON lines (see :mod:`bench.drivers.serve`), so the harness measures both
systems with the same loops and neither pays for the other's imports.
"""
