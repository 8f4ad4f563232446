"""The minion daemon: connect to masters, authenticate, verify publications, match targets,
execute module functions and return signed results."""
