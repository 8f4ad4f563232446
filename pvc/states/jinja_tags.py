"""Salt's serializer tags for Jinja: ``import_yaml``/``import_json``/``import_text`` and
``load_yaml``/``load_json``/``load_text``.

``{% import_yaml "ntp/defaults.yaml" as defaults %}`` renders that file as a Jinja template
(so it may itself use Jinja; ``with context`` passes this template's variables) and binds the
parsed data to ``defaults``. ``{% load_yaml as data %}...{% endload %}`` parses the block it
wraps. Both are rewritten at parse time into plain Jinja nodes (an ``import`` then a filtered
``set``, or a filtered block ``set``), so the sandbox checks them like anything else.

Example::

    {% import_yaml "./defaults.yaml" as defaults %}
    {% load_json as ports %}{"http": 80}{% endload %}
    {{ defaults.ntp.servers | first }} {{ ports.http }}
"""

from __future__ import annotations

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

LOADERS = {"yaml": "load_yaml", "json": "load_json", "text": "load_text"}


class SerializerTags(Extension):
    """Parses the six tags into nodes that use the ``load_*`` filters of :mod:`pvc.states.filters`."""

    tags = {f"import_{kind}" for kind in LOADERS} | {f"load_{kind}" for kind in LOADERS}

    def parse(self, parser: Parser) -> list[nodes.Node]:
        tag = parser.stream.current.value
        kind = tag.split("_", 1)[1]
        if tag.startswith("import_"):
            return self._import(parser, LOADERS[kind])
        return self._load_block(parser, LOADERS[kind])

    @staticmethod
    def _import(parser: Parser, loader: str) -> list[nodes.Node]:
        # parse_import consumes our tag token as if it were "import": same syntax, incl. context
        node = parser.parse_import()
        target = node.target
        lineno = node.lineno
        parsed = nodes.Filter(nodes.Name(target, "load", lineno=lineno), loader, [], [], None, None, lineno=lineno)
        return [node, nodes.Assign(nodes.Name(target, "store", lineno=lineno), parsed, lineno=lineno)]

    @staticmethod
    def _load_block(parser: Parser, loader: str) -> list[nodes.Node]:
        lineno = next(parser.stream).lineno
        parser.stream.expect("name:as")
        target = parser.parse_assign_target(name_only=True)
        body = parser.parse_statements(("name:endload",), drop_needle=True)
        parsed = nodes.Filter(None, loader, [], [], None, None, lineno=lineno)  # type: ignore[arg-type]
        return [nodes.AssignBlock(target, parsed, body, lineno=lineno)]
