"""pytest fixtures for the pg backend (owned by the pg work; see tests/cluster/)."""
