"""The master daemon: authenticate minions, publish jobs, collect and store returns, run the
event bus, and serve local clients (CLI, Python API)."""
