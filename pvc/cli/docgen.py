"""Generate ``docs/modules.md``, the execution-module reference, from ``sys.doc``.

The text comes from the same registry and the same ``sys.doc`` function a minion answers
with, so the reference cannot drift from what ``pvc run`` can call; ``tests/cli/test_docs.py``
fails when the committed file is out of date. Regenerate with::

    .venv/bin/python -m pvc.cli.docgen docs/modules.md
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from pvc.config import TOP_LEVEL_OPTIONS

HEADER = """\
# Execution modules

Generated from `sys.doc` by `python -m pvc.cli.docgen docs/modules.md`; do not edit by hand.
On a running cluster, `pvc run MINION sys.doc [MODULE|MODULE.FUNCTION|GLOB]` prints the same text,
and `pvc call sys.doc cmd.run` does so on a minion host without a master.

Every function is called as `pvc run TARGET module.function ARG... KEY=VALUE...`; arguments are
read as YAML (`2` is a number, `[a, b]` a list); an argument starting with `-` goes after `--`.
A module's options go in the minion config under `modules: {NAME: {...}}`
(see [configuration.md](configuration.md)).
"""


def render() -> str:
    """The whole reference as Markdown."""
    from pvc.config import MinionConfig
    from pvc.minion.functions import MinionFunctions

    funcs = MinionFunctions(MinionConfig(id="docs"), grains={})
    try:
        ret = funcs.call("sys.doc")
        if not ret.ok:
            raise RuntimeError(f"sys.doc failed: {ret.error}")
        docs: dict[str, str] = ret.data
        parts = [HEADER, "Modules: " + ", ".join(f"[{m.name}](#{m.name})" for m in funcs.registry.modules()) + "\n"]
        for module in funcs.registry.modules():
            parts.append(_module(module, {k: v for k, v in docs.items() if k.split(".", 1)[0] == module.name}))
    finally:
        funcs.close()
    return "\n".join(parts).rstrip() + "\n"


def _module(module: Any, docs: dict[str, str]) -> str:
    lines = [f"## {module.name}", ""]
    summary = _summary(module)
    if summary:
        lines += [summary, ""]
    if module.requires:
        lines += [f"Needs: {', '.join(module.requires)} (calls fail with a clear error where it is missing).", ""]
    if module.config is not None and dataclasses.is_dataclass(module.config):
        top = TOP_LEVEL_OPTIONS.get(module.name)
        where = "top-level minion options, Salt's names" if top else f"`modules: {{{module.name}: {{...}}}}`"
        lines += [f"Options ({where}):", "", "| option | default |", "|---|---|"]
        for f in dataclasses.fields(module.config):
            lines.append(f"| `{top[f.name] if top else f.name}` | `{_default(f)}` |")
        lines.append("")
    for name in sorted(docs):
        signature, _, text = docs[name].partition("\n\n")
        lines += [f"### {name}", "", "```", signature, "```", ""]
        if text.strip():
            lines += [text.strip(), ""]
    return "\n".join(lines)


def _summary(module: Any) -> str:
    """The module's one-line doc: ``ModuleSpec.doc`` where it has one, else the first paragraph
    of the Python module's docstring."""
    doc = getattr(module, "doc", "")
    if not doc and module.functions:
        source = sys.modules.get(module.functions[0].__module__)
        doc = ((source.__doc__ if source else "") or "").strip().split("\n\n", 1)[0]
    return " ".join(str(doc).split())


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return repr(f.default_factory())
    return "(required)"


def main(argv: list[str]) -> int:
    text = render()
    if not argv:
        sys.stdout.write(text)
        return 0
    with open(argv[0], "w") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
