"""pytest fixtures for the ceph backend (owned by the ceph work; see tests/cluster/)."""
