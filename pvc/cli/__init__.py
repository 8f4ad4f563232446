"""The ``pvc`` command line: thin click commands that parse, call the API, and print."""
