"""The slice of pystache that Redash relies on, reproduced so the emulator renders SQL like it.

Redash renders every query as a Mustache template with HTML escaping switched off, and finds the
parameters a query needs by walking pystache's parse tree. Both behaviours matter to clients
(``{{ x }}`` inside a string literal is a missing parameter; a set-delimiter tag is the escape
hatch), so parsing follows pystache's tag regex, standalone-line rule and node kinds exactly:
variables (``{{ a }}``, dotted ``{{ a.b }}``), unescaped (``{{{ a }}}``, ``{{& a }}``), sections,
inverted sections, comments and set-delimiter tags. Partials are not supported (Redash has no
partials either: pystache fails looking for the file, which the server reports as a 500).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MustacheError", "collect_keys", "parse", "render"]

_END_OF_LINE: Final = ("\r", "\n")
_NOT_FOUND: Final = object()


class MustacheError(ValueError):
    """The template cannot be parsed or rendered (Redash answers such a query with a 500)."""


@dataclass(frozen=True)
class _Escape:
    key: str


@dataclass(frozen=True)
class _Literal:
    key: str


@dataclass(frozen=True)
class _Section:
    key: str
    nodes: list[_Node]
    inverted: bool = False


_Node = str | _Escape | _Literal | _Section


@dataclass
class _Frame:
    tag: str
    key: str
    nodes: list[_Node] = field(default_factory=list)


def _tag_re(otag: str, ctag: str) -> re.Pattern[str]:
    # pystache's own pattern (pystache/parser.py): the key may span lines, whitespace is trimmed.
    return re.compile(
        rf"""
        (?P<whitespace>[\ \t]*)
        {re.escape(otag)} \s*
        (?:
          (?P<change>=) \s* (?P<delims>.+?)   \s* = |
          (?P<raw>{{)    \s* (?P<raw_name>.+?) \s* }} |
          (?P<tag>[!>&/\#^]?)  \s* (?P<tag_key>[\s\S]+?)
        )
        \s* {re.escape(ctag)}
        """,
        re.VERBOSE,
    )


def parse(template: str) -> list[_Node]:
    """Parse ``template`` into nodes; raise :class:`MustacheError` where pystache raises."""
    tag_re = _tag_re("{{", "}}")
    start = 0
    stack: list[_Frame] = []
    nodes: list[_Node] = []
    while True:
        match = tag_re.search(template, start)
        if match is None:
            break
        match_index, end_index = match.start(), match.end()
        if match["change"] is not None:
            tag_type, tag_key = "=", match["delims"]
        elif match["raw"] is not None:
            tag_type, tag_key = "&", match["raw_name"]
        else:
            tag_type, tag_key = match["tag"], match["tag_key"]
        leading = match["whitespace"]
        # Standalone (non-interpolation) tags consume their whole line.
        began_line = match_index == 0 or template[match_index - 1] in _END_OF_LINE
        ended_line = end_index == len(template) or template[end_index] in _END_OF_LINE
        if began_line and ended_line and tag_type not in ("", "&"):
            if end_index < len(template) and template[end_index] == "\r":
                end_index += 1
            if end_index < len(template) and template[end_index] == "\n":
                end_index += 1
        elif leading:
            match_index += len(leading)
        if start != match_index:
            nodes.append(template[start:match_index])
        start = end_index

        if tag_type in ("#", "^"):
            stack.append(_Frame(tag_type, tag_key, nodes))
            nodes = []
            continue
        if tag_type == "/":
            if not stack or stack[-1].key != tag_key:
                open_key = stack[-1].key if stack else None
                raise MustacheError(f"Section end tag mismatch: {tag_key} != {open_key}")
            frame = stack.pop()
            section = _Section(frame.key, nodes, inverted=frame.tag == "^")
            nodes = frame.nodes
            nodes.append(section)
            continue
        if tag_type == "!":
            continue
        if tag_type == "=":
            delimiters = tag_key.split()
            if len(delimiters) != 2:
                raise MustacheError(f"Invalid delimiters: {tag_key!r}")
            tag_re = _tag_re(delimiters[0], delimiters[1])
            continue
        if tag_type == ">":
            raise MustacheError(f"Partial not found: {tag_key!r}")
        nodes.append(_Escape(tag_key) if tag_type == "" else _Literal(tag_key))
    if stack:
        raise MustacheError(f"Unclosed section: {stack[-1].key}")
    if start != len(template):
        nodes.append(template[start:])
    return nodes


def collect_keys(template: str) -> list[str]:
    """Names the template asks for, as Redash counts them (variables and sections, in order)."""
    keys: list[str] = []

    def walk(nodes: Sequence[_Node]) -> None:
        for node in nodes:
            if isinstance(node, _Escape):
                keys.append(node.key)
            elif isinstance(node, _Section) and not node.inverted:
                keys.append(node.key)
                walk(node.nodes)

    walk(parse(template))
    return list(dict.fromkeys(keys))


def _get_value(context: Any, key: str) -> Any:
    if isinstance(context, Mapping):
        return context.get(key, _NOT_FOUND)
    if type(context).__module__ != "builtins":
        return getattr(context, key, _NOT_FOUND)
    return _NOT_FOUND


def _lookup(stack: list[Any], name: str) -> Any:
    if name == ".":
        return stack[-1] if stack else _NOT_FOUND
    first, *rest = name.split(".")
    value: Any = _NOT_FOUND
    for item in reversed(stack):
        value = _get_value(item, first)
        if value is not _NOT_FOUND:
            break
    for part in rest:
        if value is _NOT_FOUND:
            break
        value = _get_value(value, part)
    return value


def _render_nodes(nodes: Sequence[_Node], stack: list[Any], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Escape | _Literal):
            value = _lookup(stack, node.key)
            # pystache renders a missing key as "" and anything else with str().
            out.append(
                "" if value is _NOT_FOUND else value if isinstance(value, str) else str(value)
            )
        else:
            value = _lookup(stack, node.key)
            if value is _NOT_FOUND:
                value = ""
            if node.inverted:
                if not value:
                    _render_nodes(node.nodes, stack, out)
                continue
            if not value:
                items: list[Any] = []
            elif isinstance(value, str | Mapping) or not hasattr(value, "__iter__"):
                items = [value]
            else:
                items = list(value)
            for item in items:
                stack.append(item)
                _render_nodes(node.nodes, stack, out)
                stack.pop()


def render(template: str, context: Mapping[str, Any] | None = None) -> str:
    """Render like ``pystache.Renderer(escape=lambda u: u).render(template, context)``."""
    out: list[str] = []
    _render_nodes(parse(template), [context or {}], out)
    return "".join(out)
