"""Ceph adapter for the ``ceph`` execution module: connection, error mapping, sizes, RBD helpers.

Only :mod:`pvc.modules.ceph` uses it; ``rados``/``rbd`` (Debian's bindings) are imported inside
the functions that need them, so importing this package works on a host without Ceph.
"""
