"""SLS text -> high data: Jinja2 in a sandbox, then YAML loaded safely.

The template sees what a Salt SLS sees: ``grains``, ``pillar``, ``opts``, ``saltenv``, ``sls``,
``slspath``, ``slsdotpath``, ``tpldir``, ``tplfile`` and ``salt`` (execution functions, called as
``salt['pillar.get']('x')`` or ``salt.pillar.get('x')``), Salt's filters
(:mod:`pvc.states.filters`), the ``do`` and ``loopcontrols`` extensions and Salt's
``import_yaml``/``load_yaml``... tags (:mod:`pvc.states.jinja_tags`). ``import``/``from`` names
starting with ``./`` or ``../`` are relative to the importing file. The environment is
:class:`jinja2.sandbox.SandboxedEnvironment`: ``''.__class__.__mro__`` and other internals are
refused, so an SLS can only reach what the context hands it. YAML is a safe loader with Salt's
rules (:mod:`pvc.states.yamlsafe`: YAML 1.1 booleans ``on``/``yes``, ``0644`` is decimal, a
repeated ID is an error).

Example::

    ctx = RenderContext(grains={"os": "Debian"}, salt=SaltFunctions({"test.echo": lambda x: x}))
    render_sls("motd:\\n  file.managed:\\n    - contents: {{ grains.os }}\\n", sls="motd", ctx=ctx)
    # {'motd': {'file.managed': [{'contents': 'Debian'}]}}
"""

from __future__ import annotations

import posixpath
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from pvc.states.caller import ExecCaller
from pvc.states.errors import RenderError, StateError
from pvc.states.filters import FILTERS
from pvc.states.jinja_tags import SerializerTags
from pvc.states.yamlsafe import load_sls_yaml

# another template's source by its path ("map.jinja", "ntp/defaults.yaml"), or None if absent
SourceLoader = Callable[[str], str | None]


class _SaltModule:
    """``salt.pillar`` in a template: attribute access gives ``pillar.<fun>``."""

    def __init__(self, functions: SaltFunctions, module: str) -> None:
        self._functions = functions
        self._module = module

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return self._functions[f"{self._module}.{name}"]

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._functions[f"{self._module}.{name}"]


class SaltFunctions(Mapping[str, Callable[..., Any]]):
    """The ``salt`` mapping of a template: ``'mod.fun'`` -> callable taking the call's arguments.

    Names come from ``functions`` first, then from ``caller`` (the minion's execution functions,
    :class:`~pvc.states.caller.ExecCaller`). ``salt.mod.fun(...)`` works too (Jinja falls back
    from attribute to item lookup, and an item without a dot is the module's namespace). Unknown
    names raise ``StateError`` naming them."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None,
                 caller: ExecCaller | None = None) -> None:
        self._functions = dict(functions or {})
        self._caller = caller

    def __getitem__(self, name: str) -> Any:
        if name in self._functions:
            return self._functions[name]
        caller = self._caller
        if "." in name and caller is not None and caller.has(name):
            return lambda *args, **kwargs: caller.call(name, args, kwargs)
        if "." not in name and (any(key.startswith(name + ".") for key in self._functions)
                                or (caller is not None and caller.has(name))):
            return _SaltModule(self, name)
        # not a KeyError: Jinja would turn that into a silent Undefined
        raise StateError(f"salt function '{name}' is not available")

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def __contains__(self, name: object) -> bool:
        if name in self._functions:
            return True
        return isinstance(name, str) and self._caller is not None and "." in name and self._caller.has(name)


@dataclass(frozen=True)
class RenderContext:
    """What an SLS may read while rendering. ``sources`` serves ``import``/``include`` targets."""

    grains: Mapping[str, Any] = field(default_factory=dict)
    pillar: Mapping[str, Any] = field(default_factory=dict)
    opts: Mapping[str, Any] = field(default_factory=dict)
    salt: SaltFunctions = field(default_factory=SaltFunctions)
    saltenv: str = "base"
    sources: SourceLoader | None = None


def sls_paths(sls: str, tplfile: str | None = None) -> dict[str, str]:
    """Salt's path variables for an SLS: ``web.nginx`` in ``web/nginx.sls`` -> slspath ``web``."""
    tplfile = tplfile or sls.replace(".", "/") + ".sls"
    slspath = posixpath.dirname(tplfile)
    return {
        "sls": sls,
        "tplfile": tplfile,
        "tpldir": slspath or ".",
        "slspath": slspath,
        "slsdotpath": slspath.replace("/", "."),
        "slscolonpath": slspath.replace("/", ":"),
    }


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, but touching an unsafe attribute raises at once instead of rendering ''
    (an SLS that reaches for ``__class__`` is an attack or a bug; either way, stop)."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe.")

    def join_path(self, template: str, parent: str) -> str:
        """``./x.jinja`` and ``../x.jinja`` are relative to the importing template (Salt's rule);
        every other name is a path from the root of the state tree."""
        if template.startswith(("./", "../")):
            return posixpath.normpath(posixpath.join(posixpath.dirname(parent), template))
        return template


def _environment(name: str, text: str, sources: SourceLoader | None) -> SandboxedEnvironment:
    def get_source(path: str) -> tuple[str, str, Callable[[], bool]] | None:
        found = text if path == name else sources(path) if sources is not None else None
        # the filename lets Jinja's rewritten tracebacks name the template line of an error
        return None if found is None else (found, path, lambda: True)

    env = _Sandbox(
        loader=jinja2.FunctionLoader(get_source),
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols", SerializerTags],
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line an exception was raised at (Jinja rewrites frames to template lines)."""
    line = getattr(exc, "lineno", None)
    if isinstance(exc, jinja2.TemplateSyntaxError) and line is not None:
        return int(line)
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            found = frame.lineno
    return found


def render_jinja(text: str, *, sls: str, ctx: RenderContext, tplfile: str | None = None,
                 extra: Mapping[str, Any] | None = None) -> str:
    """Render the Jinja layer only (what ``show_sls`` shows before YAML)."""
    paths = sls_paths(sls, tplfile)
    name = paths["tplfile"]
    env = _environment(name, text, ctx.sources)
    variables = {**paths, "grains": ctx.grains, "pillar": ctx.pillar, "opts": ctx.opts, "salt": ctx.salt,
                 "saltenv": ctx.saltenv, **(extra or {})}
    # as in Salt, a template imported without "with context" (a formula's libtofs.jinja macros)
    # still sees grains, pillar, salt and the paths of the template being rendered
    env.globals.update(variables)
    try:
        return env.get_template(name).render()
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(sls, f"Jinja syntax error: {exc.message}", exc.lineno) from None
    except Exception as exc:  # noqa: BLE001 - any error inside the template (SecurityError, KeyError...)
        line = _template_line(exc, name)
        raise RenderError(sls, f"Jinja error: {type(exc).__name__}: {exc}", line) from None


def load_yaml(text: str, *, sls: str) -> Any:
    """Salt's safe YAML (:mod:`pvc.states.yamlsafe`) with errors turned into a
    :class:`RenderError` naming the line."""
    try:
        return load_sls_yaml(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise RenderError(sls, f"YAML error: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise RenderError(sls, f"YAML error: {exc}") from None


def render_sls(text: str, *, sls: str, ctx: RenderContext, tplfile: str | None = None) -> dict[str, Any]:
    """Render one SLS into high data (an empty SLS is ``{}``; anything but a mapping fails)."""
    data = load_yaml(render_jinja(text, sls=sls, ctx=ctx, tplfile=tplfile), sls=sls)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RenderError(sls, f"SLS must render to a mapping, not {type(data).__name__}")
    return data
