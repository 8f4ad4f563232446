"""States: SLS files (YAML + Jinja2) planned into changes from facts, then applied.

Empty until the states issue lands; the package exists so that the layout DESIGN.md fixes is
the one installed.
"""
