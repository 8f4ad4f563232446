"""pytest fixtures for the net backend (owned by the net work; see tests/cluster/)."""
