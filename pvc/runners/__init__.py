"""Runners: master-side orchestration on ZooKeeper (node keepalive, primary election, flush,
fencing, VM recovery).

Empty until the cluster-layer issue lands; the package exists so that the layout DESIGN.md
fixes is the one installed.
"""
