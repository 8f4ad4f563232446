"""Beacons: periodic local checks on a minion that fire ``pvc/beacon/<id>/<name>`` on an edge.

:mod:`.config` reads ``beacons:`` from the minion config, :mod:`.checks` holds the checks (load,
memory, disk, process, service, file) in one explicit table, :mod:`.loop` runs them in one
thread. Nothing here is imported by a minion whose config has no ``beacons:``.
"""
