"""Ceph adapter: connection, error mapping, sizes, RBD helpers.

It takes a config and a handle cache, never a job context, so the ``ceph`` execution module
(:mod:`pvc.modules.ceph`), the state engine and the lab can all use it. ``rados``/``rbd``
(Debian's bindings) are imported inside the functions that need them, so importing this package
works on a host without Ceph.
"""
