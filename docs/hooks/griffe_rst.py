"""Griffe extension for the API pages: the reST bits of semcom's docstrings as Markdown.

semcom's docstrings are Google style with a few reST habits: roles (:class:`X`, :func:`~a.b`),
literal blocks introduced by ``::``, and simple tables (``====  ====``). This turns them into what
mkdocstrings renders: inline code, a plain colon before the (indented) code block, and Markdown
tables. Nothing else is changed.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|py:\w+):`~?([^`]+)`")


def _table(lines: list[str]) -> list[str]:
    """A reST simple table as a Markdown table: the row between the first two rules is the header
    when there are three rules; with only a top and a bottom rule the header is left empty."""
    rules = [k for k, line in enumerate(lines) if re.fullmatch(r"\s*=+(\s+=+)+\s*", line)]
    cols = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[0])]

    def cells(line: str) -> list[str]:
        return [line[a:(cols[k + 1][0] if k + 1 < len(cols) else len(line))].strip() for k, (a, _) in enumerate(cols)]

    rows = [cells(line) for k, line in enumerate(lines) if k not in rules and line.strip()]
    if len(rules) >= 3:
        header, body = rows[0], rows[1:]
    else:
        header, body = [" "] * len(cols), rows
    return ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(cols), *("| " + " | ".join(r) + " |" for r in body), ""]


def convert(text: str) -> str:
    text = ROLE.sub(r"`\1`", text)
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.fullmatch(r"\s*=+(\s+=+)+\s*", line):
            j = i + 1
            while j < len(lines) and not re.fullmatch(r"\s*=+(\s+=+)+\s*", lines[j]):
                j += 1
            if j < len(lines):
                out += _table(lines[i:j + 1])
                i = j + 1
                continue
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()[:-2].rstrip()
            out.append(stripped + ":" if stripped else "")
            # the indented block that follows becomes a fenced block at the paragraph's indentation
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            base = len(line) - len(line.lstrip())
            block = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > base):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                pad = " " * (4 if 0 < base < 4 else base)  # inside a list item: its content indent
                out += ["", pad + "```"] + [pad + b[indent:] if b.strip() else "" for b in block] + [pad + "```", ""]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
