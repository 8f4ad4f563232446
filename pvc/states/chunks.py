"""The typed records the compiler produces: :class:`Chunk` (one state call) and :class:`Requisite`.

A chunk is Salt's "low chunk": one state module function on one name, with its arguments, its
declared requisites (``_in`` forms already turned around), resolved to the tags of the chunks they
match, and its order key. A requisite whose ``tags`` are empty matched nothing: the engine fails
that chunk with Salt's "The following requisites were not found".

Example::

    Chunk(id="vim", name="vim", state="pkg", fun="installed", sls="edit", order=10000)
    Chunk(...).tag  # 'pkg_|-vim_|-vim_|-installed'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# the requisite kinds a state may declare; each also has a ``<kind>_in`` form
REQUISITE_KINDS = (
    "require", "require_any", "watch", "watch_any", "onchanges", "onchanges_any",
    "onfail", "onfail_any", "onfail_all", "prereq",
)
IN_KINDS = {f"{kind}_in": kind for kind in REQUISITE_KINDS if not kind.endswith(("_any", "_all"))}
CONDITIONS = ("unless", "onlyif", "creates")
# keys of a state's argument list that steer the engine and are not passed to the function
SPECIAL_ARGS = frozenset((*REQUISITE_KINDS, *IN_KINDS, *CONDITIONS, "order", "failhard", "names", "fun", "state",
                          "retry"))


@dataclass(frozen=True)
class Requisite:
    """``- require: [{file: /etc/x}]`` is ``Requisite("require", "file", "/etc/x")``.

    ``state`` is a state module, ``"sls"`` for a whole SLS, or ``""`` for a bare id/name.
    ``tags`` are the chunks it matched (filled by the compiler)."""

    kind: str
    state: str
    target: str
    tags: tuple[str, ...] = ()

    @property
    def base(self) -> str:
        """The kind without its ``_any``/``_all`` suffix (``watch_any`` -> ``watch``)."""
        return self.kind.removesuffix("_any").removesuffix("_all")

    def describe(self) -> str:
        return f"{self.state}: {self.target}" if self.state else self.target


@dataclass(frozen=True)
class Chunk:
    """One state function call, ready to order and run."""

    id: str
    name: str
    state: str
    fun: str
    sls: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    requisites: tuple[Requisite, ...] = ()
    order: float = 0
    failhard: bool | None = None
    unless: tuple[Any, ...] = ()
    onlyif: tuple[Any, ...] = ()
    creates: tuple[str, ...] = ()
    retry: Any = None  # Salt's retry option: True or {attempts, until, interval, splay}
    # requisites that matched nothing, and requisite_in targets that matched nothing
    missing: tuple[Requisite, ...] = ()

    @property
    def tag(self) -> str:
        return f"{self.state}_|-{self.id}_|-{self.name}_|-{self.fun}"

    @property
    def fullname(self) -> str:
        return f"{self.state}.{self.fun}"

    def kinds(self, *kinds: str) -> list[Requisite]:
        return [req for req in self.requisites if req.kind in kinds]
