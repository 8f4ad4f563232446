"""Sandboxed Jinja2 for reactor action fields: the template is the operator's, the data is hostile.

An event's ``data`` comes from a minion or a local client: it is decoded totally (plain values
only) and exposed to templates as ``data``, with ``tag`` and ``parts`` (the tag split on ``/``).
The environment is Jinja2's immutable sandbox with no loader (no ``include``/``import``/``extends``,
no filesystem), undefined values raise instead of rendering empty, ``*`` and ``**`` may not build
huge values, and each rendered field is cut off at :data:`MAX_FIELD` characters while it is
being produced. Strings are rendered; numbers, booleans and null pass through; lists and
mappings are rendered leaf by leaf (keys are not templates).

Example::

    r = Renderer()
    r.render(["{{ parts[2] }}", 5], tag="pvc/node/hv2/dead", data={})   # ["hv2", 5]
    r.render("{{ data.path }}", tag="pvc/beacon/hv1/disk", data={})    # raises RenderError
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from pvc.errors import ConfigError
from pvc.reactor.errors import RenderError

MAX_FIELD = 16 * 1024  # characters one rendered field may have
MAX_POWER = 1024       # largest exponent ** accepts
_SEQUENCES = (str, bytes, list, tuple)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` bounded: ``'x' * data.n`` or ``9 ** data.n``
    must not let an event's number decide how much memory or CPU the coordinator spends."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, _SEQUENCES) and isinstance(times, int) and len(seq) * times > MAX_FIELD:
                    raise SecurityError(f"a repeated value longer than {MAX_FIELD} is refused")
            return operator.mul(left, right)
        if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
            raise SecurityError(f"an exponent above {MAX_POWER} is refused")
        return operator.pow(left, right)


class Renderer:
    """Compiles each template string once (templates come only from the config, so the cache
    is bounded by it) and renders values against one event."""

    def __init__(self) -> None:
        self.env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, loader=None)
        self._compiled: dict[str, jinja2.Template] = {}

    def check(self, text: str, where: str) -> None:
        """Compile ``text`` now, so a syntax error is a config error at start, not at 3 a.m."""
        try:
            self._template(text)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"{where}: template error line {exc.lineno}: {exc.message}") from None

    def check_value(self, value: Any, where: str) -> None:
        """:meth:`check` every string leaf of ``value``."""
        if isinstance(value, str):
            self.check(value, where)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.check_value(item, f"{where}[{i}]")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.check_value(item, f"{where}.{key}")

    def _template(self, text: str) -> jinja2.Template:
        template = self._compiled.get(text)
        if template is None:
            template = self._compiled[text] = self.env.from_string(text)
        return template

    def render(self, value: Any, tag: str, data: Mapping[str, Any]) -> Any:
        """``value`` with every string leaf rendered against the event."""
        context = {"tag": tag, "parts": tag.split("/"), "data": data}
        return self._render(value, context)

    def _render(self, value: Any, context: dict[str, Any]) -> Any:
        if isinstance(value, str):
            return self._field(value, context) if ("{{" in value or "{%" in value) else value
        if isinstance(value, (list, tuple)):
            return [self._render(item, context) for item in value]
        if isinstance(value, Mapping):
            return {key: self._render(item, context) for key, item in value.items()}
        return value

    def _field(self, text: str, context: dict[str, Any]) -> str:
        out: list[str] = []
        size = 0
        try:
            for chunk in self._template(text).generate(context):
                size += len(chunk)
                if size > MAX_FIELD:
                    raise RenderError(f"template {text[:60]!r} renders more than {MAX_FIELD} characters")
                out.append(chunk)
        except RenderError:
            raise
        except jinja2.UndefinedError as exc:
            raise RenderError(f"template {text[:60]!r}: {exc.message}") from None
        except SecurityError as exc:
            raise RenderError(f"template {text[:60]!r}: refused by the sandbox: {exc}") from None
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise RenderError(f"template {text[:60]!r}: {type(exc).__name__}: {exc}") from None
        return "".join(out)
