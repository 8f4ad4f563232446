"""pytest fixtures that start real pvc masters and minions on loopback (see tests/cluster/pvc.py)."""
