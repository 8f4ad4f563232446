"""High data -> a list of typed :class:`~pvc.states.chunks.Chunk`, as Salt compiles it.

Supported: ``include`` (absolute ``a.b``, relative ``.b``/``..b``; included SLS come first, each
once), ``extend``, ids with ``names:``, the old list syntax (``file: [managed, {source: x}]``,
function anywhere in the list), ``id: pkg.installed`` shorthand, ``name`` defaulting to the id,
requisites and their ``_in`` forms, ``sls:`` requisites, ``order`` and ``failhard``. Every shape
error is collected and raised as one :class:`~pvc.states.errors.CompileError`; a requisite that
matches nothing is not an error here: it is recorded on the chunk (``Chunk.missing``) so that only
that state fails when run, as in Salt.

Auto order follows Salt's ``state_auto_order``: each state gets the next number from 10000 in the
order the SLS were read (includes first), ``order: first`` is 0, ``order: last`` and negative
orders go after every other state; ties sort by state, name, function.

Example::

    chunks = compile_sls(["web"], loader={"web": {"nginx": {"pkg.installed": []}}}.__getitem__)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pvc.states.chunks import CONDITIONS, IN_KINDS, REQUISITE_KINDS, SPECIAL_ARGS, Chunk, Requisite
from pvc.states.errors import CompileError, SlsNotFound

AUTO_ORDER_START = 10000


@dataclass(frozen=True)
class SlsSource:
    """A rendered SLS as the loader returns it; ``init`` says it came from ``<dir>/init.sls``
    (relative includes then start from that directory, not its parent)."""

    data: Mapping[str, Any]
    init: bool = False


# the rendered high data of an SLS by name; raises SlsNotFound when there is none
SlsLoader = Callable[[str], "SlsSource | Mapping[str, Any]"]


@dataclass
class _Decl:
    """One ``state`` entry of an id while compiling: function and ordered arguments."""

    state: str
    fun: str | None
    args: dict[str, Any]
    order: int


@dataclass
class _High:
    ids: dict[str, dict[str, _Decl]] = field(default_factory=dict)
    sls_of: dict[str, str] = field(default_factory=dict)
    extends: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    next_order: int = AUTO_ORDER_START


def resolve_include(current: str, target: str, *, init: bool = False) -> str:
    """``.b`` from ``a.c`` is ``a.b``; from ``a`` loaded as ``a/init.sls`` it is ``a.b``;
    each further leading dot goes up one level."""
    if not target.startswith("."):
        return target
    dots = len(target) - len(target.lstrip("."))
    parts = current.split(".") if init else current.split(".")[:-1]
    up = dots - 1
    if up > len(parts):
        raise CompileError([f"Relative include '{target}' in SLS '{current}' goes above the state tree"])
    base = parts[: len(parts) - up]
    return ".".join([*base, target.lstrip(".")])


def _normalize_args(items: Any, sls: str, sid: str, state: str) -> tuple[str | None, dict[str, Any], list[str]]:
    """``[managed, {source: x}]`` -> ("managed", {"source": "x"}); functions may sit anywhere."""
    funs: list[str] = []
    args: dict[str, Any] = {}
    errors: list[str] = []
    if items is None:
        items = []
    if not isinstance(items, list):
        return None, {}, [f"State '{state}' in ID '{sid}' in SLS '{sls}' must be a list of arguments"]
    for item in items:
        if isinstance(item, str):
            funs.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            key, value = next(iter(item.items()))
            if key in REQUISITE_KINDS or key in IN_KINDS:
                args[key] = [*args.get(key, []), *(value if isinstance(value, list) else [value])]
            else:
                args[str(key)] = value
        else:
            errors.append(f"ID '{sid}' in SLS '{sls}': argument {item!r} of '{state}' is not a single-key mapping")
    if len(funs) > 1:
        errors.append(f"Too many functions declared in state '{state}' in SLS '{sls}' (ID '{sid}'): {funs}")
    return (funs[0] if funs else None), args, errors


def _parse_block(sid: str, body: Any, sls: str, high: _High, *, extending: bool) -> dict[str, _Decl]:
    if isinstance(body, str) and "." in body:  # vim: pkg.installed
        body = {body: []}
    if not isinstance(body, dict):
        high.errors.append(f"ID '{sid}' in SLS '{sls}' is not a dictionary")
        return {}
    decls: dict[str, _Decl] = {}
    for key, items in body.items():
        key = str(key)
        if key.startswith("__"):
            continue
        state, _, dotted_fun = key.partition(".")
        fun, args, errors = _normalize_args(items, sls, sid, key)
        high.errors.extend(errors)
        if dotted_fun and fun:
            high.errors.append(f"Too many functions declared in state '{state}' in SLS '{sls}' (ID '{sid}')")
        fun = dotted_fun or fun
        if state in decls:
            high.errors.append(f"State '{state}' is declared twice in ID '{sid}' in SLS '{sls}'")
        if fun is None and not extending:
            high.errors.append(f"No function declared in state '{state}' in SLS '{sls}' (ID '{sid}')")
        order = 0
        if not extending:
            order, high.next_order = high.next_order, high.next_order + 1
        decls[state] = _Decl(state, fun, args, order)
    return decls


def _load(sls: str, loader: SlsLoader, high: _High, stack: tuple[str, ...] = ()) -> None:
    if sls in high.loaded:
        return
    high.loaded.append(sls)
    try:
        source = loader(sls)
    except SlsNotFound:
        where = f" (included from '{stack[-1]}')" if stack else ""
        high.errors.append(f"Specified SLS '{sls}' in saltenv 'base' is not available{where}")
        return
    if not isinstance(source, SlsSource):
        source = SlsSource(source)
    data = dict(source.data)
    includes = data.pop("include", None) or []
    if not isinstance(includes, list):
        high.errors.append(f"Include declaration in SLS '{sls}' is not formed as a list")
        includes = []
    for inc in includes:
        name = next(iter(inc)) if isinstance(inc, dict) and len(inc) == 1 else inc
        if not isinstance(name, str):
            high.errors.append(f"Include {inc!r} in SLS '{sls}' is not an SLS name")
            continue
        try:
            target = resolve_include(sls, name, init=source.init)
        except CompileError as exc:
            high.errors.extend(exc.errors)
            continue
        _load(target, loader, high, (*stack, sls))
    extend = data.pop("extend", None)
    if extend is not None:
        if isinstance(extend, dict):
            high.extends.append((sls, extend))
        else:
            high.errors.append(f"Extension in SLS '{sls}' is not a dictionary")
    for sid, body in data.items():
        sid = str(sid)
        if sid in high.ids:
            high.errors.append(f"Detected conflicting IDs, SLS IDs need to be globally unique. The conflicting "
                               f"ID is '{sid}' and is found in SLS 'base:{high.sls_of[sid]}' and SLS 'base:{sls}'")
            continue
        high.ids[sid] = _parse_block(sid, body, sls, high, extending=False)
        high.sls_of[sid] = sls


def _apply_extends(high: _High) -> None:
    for sls, extend in high.extends:
        for sid, body in extend.items():
            sid = str(sid)
            if sid not in high.ids:
                high.errors.append(f"Cannot extend ID '{sid}' in 'base:{sls}'. It is not part of the high state.")
                continue
            for state, decl in _parse_block(sid, body, sls, high, extending=True).items():
                target = high.ids[sid].get(state)
                if target is None:
                    if decl.fun is None:
                        high.errors.append(f"Cannot extend state '{state}' of ID '{sid}' in 'base:{sls}': "
                                           "it has no function")
                        continue
                    decl.order, high.next_order = high.next_order, high.next_order + 1
                    high.ids[sid][state] = decl
                    continue
                if decl.fun is not None:
                    target.fun = decl.fun
                for key, value in decl.args.items():
                    if key in REQUISITE_KINDS or key in IN_KINDS:
                        target.args[key] = [*target.args.get(key, []), *value]
                    else:
                        target.args[key] = value


def _requisites(kind: str, value: Any, where: str, errors: list[str]) -> list[Requisite]:
    out = []
    for ref in value if isinstance(value, list) else [value]:
        if isinstance(ref, str):
            out.append(Requisite(kind, "", ref))
        elif isinstance(ref, dict) and len(ref) == 1:
            state, target = next(iter(ref.items()))
            out.append(Requisite(kind, str(state), str(target)))
        else:
            errors.append(f"{where}: requisite {kind} entry {ref!r} is not 'state: id' or an id")
    return out


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _expand(high: _High) -> list[Chunk]:
    """One chunk per (id, state, name); ``names:`` items may carry their own arguments."""
    chunks = []
    for sid, decls in high.ids.items():
        sls = high.sls_of[sid]
        for decl in decls.values():
            if decl.fun is None:
                continue
            names = decl.args.get("names")
            if names is None:
                entries: list[tuple[str, dict[str, Any]]] = [(str(decl.args.get("name", sid)), {})]
            elif isinstance(names, list):
                entries = []
                for item in names:
                    if isinstance(item, dict) and len(item) == 1:
                        key, extra = next(iter(item.items()))
                        over = {}
                        for arg in extra or []:
                            over.update(arg if isinstance(arg, dict) else {})
                        entries.append((str(key), over))
                    else:
                        entries.append((str(item), {}))
            else:
                high.errors.append(f"ID '{sid}' in SLS '{sls}': names must be a list")
                continue
            for index, (name, over) in enumerate(entries):
                chunks.append(_chunk(sid, sls, decl, name, over, index if names is not None else None, high.errors))
    return chunks


def _chunk(sid: str, sls: str, decl: _Decl, name: str, over: dict[str, Any], name_order: int | None,
           errors: list[str]) -> Chunk:
    merged = {**decl.args, **over}
    where = f"ID '{sid}' in SLS '{sls}'"
    reqs = []
    for kind in (*REQUISITE_KINDS, *IN_KINDS):
        if kind in merged:
            reqs.extend(_requisites(kind, merged[kind], where, errors))
    order: Any = merged.get("order", decl.order)
    args = {key: value for key, value in merged.items() if key not in SPECIAL_ARGS}
    args["name"] = name
    failhard = merged.get("failhard")
    return Chunk(
        id=sid, name=name, state=decl.state, fun=str(decl.fun), sls=sls, args=args,
        requisites=tuple(reqs), order=order if name_order is None else (order, name_order),  # type: ignore[arg-type]
        failhard=None if failhard is None else bool(failhard), retry=merged.get("retry"),
        **{cond: _as_tuple(merged.get(cond)) for cond in CONDITIONS},
    )


def _numeric_orders(chunks: list[Chunk], errors: list[str]) -> list[Chunk]:
    """Salt's order keys: first=0, ints as given, last/negative after everything, names by index."""
    raw = [c.order[0] if isinstance(c.order, tuple) else c.order for c in chunks]
    cap = max([o for o in raw if isinstance(o, int) and not isinstance(o, bool)] + [1]) + 100
    out = []
    for chunk, value in zip(chunks, raw, strict=True):
        if value == "first":
            number: float = 0
        elif value == "last":
            number = cap + 1_000_000
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = cap + 1_000_000 + value if value < 0 else value
        else:
            errors.append(f"ID '{chunk.id}' in SLS '{chunk.sls}': order {value!r} is not first, last or a number")
            number = cap
        if isinstance(chunk.order, tuple):
            number += chunk.order[1] / 10000.0
        out.append(replace(chunk, order=number))
    return out


def _matches(req: Requisite, chunk: Chunk) -> bool:
    if req.state == "sls":
        return fnmatch.fnmatchcase(chunk.sls, req.target)
    if req.state and req.state != chunk.state:
        return False
    return fnmatch.fnmatchcase(chunk.id, req.target) or fnmatch.fnmatchcase(chunk.name, req.target)


def _resolve(chunks: list[Chunk]) -> list[Chunk]:
    """Turn ``_in`` requisites around, then fill each requisite's matching tags."""
    added: dict[str, list[Requisite]] = {c.tag: [] for c in chunks}
    missing: dict[str, list[Requisite]] = {c.tag: [] for c in chunks}
    for chunk in chunks:
        for req in chunk.requisites:
            if req.kind not in IN_KINDS:
                continue
            targets = [c for c in chunks if c.tag != chunk.tag and _matches(req, c)]
            if not targets:
                missing[chunk.tag].append(req)
            for target in targets:
                added[target.tag].append(Requisite(IN_KINDS[req.kind], chunk.state, chunk.name, (chunk.tag,)))
    out = []
    for chunk in chunks:
        reqs = []
        for req in chunk.requisites:
            if req.kind in IN_KINDS:
                continue
            tags = tuple(c.tag for c in chunks if c.tag != chunk.tag and _matches(req, c))
            reqs.append(replace(req, tags=tags))
            if not tags:
                missing[chunk.tag].append(req)
        reqs.extend(added[chunk.tag])
        out.append(replace(chunk, requisites=tuple(reqs), missing=tuple(missing[chunk.tag])))
    return out


def compile_high(high_by_sls: Mapping[str, Mapping[str, Any]]) -> list[Chunk]:
    """Compile already-rendered SLS (name -> high data, in reading order) without includes."""
    return compile_sls(list(high_by_sls), high_by_sls.__getitem__)


def compile_sls(names: list[str], loader: SlsLoader) -> list[Chunk]:
    """Load ``names`` (and what they include) through ``loader`` and compile them to chunks,
    sorted by Salt's order key (requisites are applied by :func:`pvc.states.order.order_chunks`)."""
    high = _High()

    def load(name: str) -> SlsSource | Mapping[str, Any]:
        try:
            return loader(name)
        except KeyError:
            raise SlsNotFound(name) from None

    for name in names:
        _load(name, load, high)
    _apply_extends(high)
    chunks = _expand(high)
    chunks = _numeric_orders(chunks, high.errors)
    if high.errors:
        raise CompileError(high.errors)
    chunks = _resolve(chunks)
    chunks.sort(key=lambda c: (c.order, f"{c.state}{c.name}{c.fun}"))
    return chunks
