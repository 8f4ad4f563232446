"""pytest fixtures for the libvirt backend (owned by the libvirt work; see tests/cluster/)."""
