"""A renderer for the subset of Go's text/template that hearth's Ollama TEMPLATE uses, so the exporter
can check (and the tests show) that the Modelfile writes the same prompt text as the Jinja chat
template.

The subset: literal text; `{{ .System }}`, `{{ .Content }}`, `{{ .Role }}`; string literals
(`{{ "{{" }}`); variables `{{ $v := "x" }}` / `{{ $v = "x" }}`; `{{ if X }}` … `{{ else if X }}` …
`{{ else }}` … `{{ end }}` where X is a field, a variable or `eq A B`; `{{ range .Messages }}`.
Anything else is an error, not a guess. No whitespace trimming (`{{-`), as the exporter emits none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')


class GoTemplateError(ValueError):
    pass


@dataclass
class _Node:
    kind: str  # text, value, assign, if, range
    args: list = field(default_factory=list)
    body: list = field(default_factory=list)
    branches: list = field(default_factory=list)  # for `if`: [(condition, body)], condition None = else


def _tokens(action: str) -> list[str]:
    return TOKEN.findall(action.strip())


def _parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    pos = 0
    for match in ACTION.finditer(source):
        if match.start() > pos:
            stack[-1][1].append(_Node("text", [source[pos:match.start()]]))
        pos = match.end()
        words = _tokens(match.group(1))
        if not words:
            raise GoTemplateError("empty action")
        head = words[0]
        if head in ("if", "range"):
            node = _Node(head, words[1:])
            if head == "if":
                node.branches.append((words[1:], []))
                body = node.branches[-1][1]
            else:
                body = node.body
            stack[-1][1].append(node)
            stack.append((node, body))
        elif head == "else":
            owner = stack[-1][0]
            if owner is None or owner.kind != "if":
                raise GoTemplateError("else outside if")
            condition = words[2:] if words[1:2] == ["if"] else None
            owner.branches.append((condition, []))
            stack[-1] = (owner, owner.branches[-1][1])
        elif head == "end":
            if len(stack) == 1:
                raise GoTemplateError("end without if/range")
            stack.pop()
        elif len(words) == 3 and head.startswith("$") and words[1] in (":=", "="):
            stack[-1][1].append(_Node("assign", words))
        else:
            stack[-1][1].append(_Node("value", words))
    if len(stack) != 1:
        raise GoTemplateError("unclosed if/range")
    if pos < len(source):
        root.append(_Node("text", [source[pos:]]))
    return root


def _value(word: str, dot: dict, variables: dict):
    if word.startswith('"'):
        return json.loads(word)
    if word.startswith("$"):
        if word not in variables:
            raise GoTemplateError(f"undefined variable {word}")
        return variables[word]
    if word.startswith("."):
        return dot.get(word[1:], "")
    raise GoTemplateError(f"unsupported expression {word!r}")


def _condition(words: list[str], dot: dict, variables: dict) -> bool:
    if words[0] == "eq" and len(words) == 3:
        return _value(words[1], dot, variables) == _value(words[2], dot, variables)
    if len(words) == 1:
        return bool(_value(words[0], dot, variables))
    raise GoTemplateError(f"unsupported condition {' '.join(words)!r}")


def _render(nodes: list[_Node], dot: dict, root: dict, variables: dict, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.args[0])
        elif node.kind == "value":
            if len(node.args) != 1:
                raise GoTemplateError(f"unsupported action {' '.join(node.args)!r}")
            out.append(str(_value(node.args[0], dot, variables)))
        elif node.kind == "assign":
            variables[node.args[0]] = _value(node.args[2], dot, variables)
        elif node.kind == "if":
            for condition, body in node.branches:
                if condition is None or _condition(condition, dot, variables):
                    _render(body, dot, root, variables, out)
                    break
        elif node.kind == "range":
            if node.args != [".Messages"]:
                raise GoTemplateError(f"unsupported range {' '.join(node.args)!r}")
            for message in root.get("Messages", []):
                _render(node.body, message, root, variables, out)


def render_go(source: str, system: str, messages: list[dict]) -> str:
    """What Ollama writes for this conversation: `.System` and `.Messages` (Role, Content) as it passes them."""
    root = {"System": system, "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages]}
    out: list[str] = []
    _render(_parse(source), root, root, {}, out)
    return "".join(out)
