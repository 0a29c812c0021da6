"""A griffe extension: chainrule's reST-flavoured docstrings as Markdown for mkdocstrings.

chainrule's docstrings are written for ``help()`` and doctest: ``>>>`` examples, ``::``
literal blocks, ``double backticks`` and Sphinx roles (:func:`watch`). In Markdown a
``>>>`` line is a nested block quote and ``::`` blocks are plain paragraphs, so this turns
them into fenced code (``pycon`` for examples) and roles into code spans, leaving the
source untouched.

tests/docs/test_site.py checks the conversion.
"""
from __future__ import annotations

import re
import textwrap

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|ref|py:\w+):`~?([^`]+)`")
_DOUBLE = re.compile(r"``(.+?)``")


def _inline(line: str) -> str:
    line = _ROLE.sub(r"`\1`", line)
    return _DOUBLE.sub(r"`\1`", line)


def to_markdown(text: str) -> str:
    """Fence doctest and ``::`` blocks, and turn roles and double backticks into code spans."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():  # a doctest block ends at a blank line
                block.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [indent + "```pycon", *(indent + b for b in block), indent + "```"]
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            # "text::" ends a paragraph that introduces an indented literal block
            head = line[:-1] if not stripped == "::" else ""
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            base = len(line) - len(stripped)
            body = []
            while j < len(lines) and (not lines[j].strip()
                                      or len(lines[j]) - len(lines[j].lstrip()) > base):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            if body:
                if head:
                    out.append(_inline(head))
                out += ["", "```", *textwrap.dedent("\n".join(body)).splitlines(), "```", ""]
                i = j
                continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    """Rewrite every docstring as its object is read (the root package included)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        _convert(obj)

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        _convert(obj)


def _convert(obj: griffe.Object) -> None:
    docstring = getattr(obj, "docstring", None)
    if docstring is not None and not getattr(docstring, "_markdown", False):
        docstring.value = to_markdown(docstring.value)
        docstring._markdown = True
