"""Shim so that legacy `python setup.py ...` and old pip versions still work; pyproject.toml is the source of truth."""
from setuptools import setup

setup()
