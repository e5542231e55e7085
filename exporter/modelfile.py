"""An Ollama `Modelfile` for an exported model, so `ollama run` answers as the model was trained: FROM
the GGUF, a Go TEMPLATE that writes the same prompt text as the model's Jinja chat template, its stop
strings, the run's sampling settings and context length (PARAMETER), and — exported for a persona —
its system prompt (SYSTEM) and greeting (MESSAGE assistant).

The template is not translated by hand per model family: the Jinja template is rendered with
stand-in messages, and the literal text it writes between them becomes the text between the Go
template's actions, one piece per (previous role → next role) step. Steps the Jinja template refuses
(Gemma 2 raises on a system prompt, Gemma on an assistant turn first) are left out, and so is a
system prompt or greeting that would need them. No whitespace-trimming markers are used, so every
newline of the original survives. Before it is written, the Go template is rendered for a few
conversations (`go_template.render_go`) and must equal the Jinja rendering.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from exporter.chat_template import load_chat_template, render, special_token_texts
from exporter.go_template import render_go
from hearth.chat_template import TemplateRefused

# Stand-in message contents, unlikely to occur in any template's own text.
SYSTEM, USER, USER2, ASSISTANT, GREETING = (f"\u2063hearth-{name}\u2063" for name in
                                             ("system", "user", "user2", "assistant", "greeting"))

# (piece name, stand-in conversation, the two contents the piece lies between; None: the rendering's start)
PIECE_PROBES = (
    ("system_open", [SYSTEM, USER], None, SYSTEM),
    ("system_to_user", [SYSTEM, USER], SYSTEM, USER),
    ("start_to_user", [USER], None, USER),
    ("user_to_assistant", [USER, ASSISTANT, USER2], USER, ASSISTANT),
    ("assistant_to_user", [USER, ASSISTANT, USER2], ASSISTANT, USER2),
    ("generation", [USER], USER, "<end>"),
    ("system_to_assistant", [SYSTEM, GREETING, USER], SYSTEM, GREETING),
    ("start_to_assistant", [GREETING, USER], None, GREETING),
)
ROLE_OF = {SYSTEM: "system", USER: "user", USER2: "user", ASSISTANT: "assistant", GREETING: "assistant"}

# Ollama PARAMETER name → the field of the run's settings it comes from (EngineSettings' names).
PARAMETERS = (
    ("num_ctx", "n_ctx"),
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("repeat_penalty", "repeat_penalty"),
    ("num_predict", "max_reply_tokens"),
    ("seed", "seed"),
)

# The conversations the Go template must write exactly as the Jinja template does.
CHECK_CONVERSATIONS = (
    [("user", "Hello! How are you?")],
    [("system", "You are 林栀, a gentle friend."), ("user", "你好"), ("assistant", "你好呀。"), ("user", "Draw a card.")],
    [("user", "One"), ("assistant", "Two"), ("user", "Three"), ("assistant", "Four"), ("user", "Five")],
    [("system", "Be brief."), ("assistant", "Welcome back!"), ("user", "Hi")],
    [("assistant", "Welcome back!"), ("user", "Hi"), ("assistant", "Hello."), ("user", "Bye")],
)


@dataclass
class Serving:
    """How the exported model is to be run: the settings and, for a persona, who it is."""

    settings: dict = field(default_factory=dict)  # EngineSettings fields (n_ctx, temperature, …)
    system_prompt: str | None = None
    greeting: str | None = None


def _piece(template: str, tokens: dict, contents: list[str], before: str | None, after: str) -> str | None:
    messages = [{"role": ROLE_OF[c], "content": c} for c in contents]
    try:
        text = render(template, messages, add_generation_prompt=True, tokens=tokens) + "<end>"
    except TemplateRefused:
        return None  # the template refuses this conversation
    start = 0 if before is None else text.find(before) + len(before)
    end = text.find(after, start)
    return text[start:end] if (before is None or before in text) and end >= 0 else None


def step_pieces(template: str, tokens: dict | None = None) -> dict[str, str | None]:
    """The literal text between messages, per step; None for a step the template refuses."""
    return {name: _piece(template, tokens or {}, contents, before, after)
            for name, contents, before, after in PIECE_PROBES}


def _go(text: str) -> str:
    return text.replace("{{", '{{ "{{" }}')


def _branch(pieces: dict, options: list[tuple[str, str]], default: str) -> str:
    """`{{ if eq $prev "a" }}piece_a{{ else if … }}…{{ else }}default{{ end }}` over the known pieces."""
    known = [(prev, pieces[name]) for prev, name in options if pieces.get(name) is not None]
    fallback = pieces.get(default) or ""
    if not known:
        return _go(fallback)
    text = "".join(f'{{{{ {"if" if i == 0 else "else if"} eq $prev "{prev}" }}}}{_go(piece)}'
                   for i, (prev, piece) in enumerate(known))
    return text + f"{{{{ else }}}}{_go(fallback)}{{{{ end }}}}"


def go_template_from(template: str, tokens: dict) -> tuple[str, dict]:
    """The Go TEMPLATE for a Jinja chat template, and the pieces it was built from."""
    pieces = step_pieces(template, tokens)
    system = ""
    if pieces["system_open"] is not None and pieces["system_to_user"] is not None:
        system = (f'{{{{ if .System }}}}{_go(pieces["system_open"])}{{{{ .System }}}}'
                  '{{ $prev = "system" }}{{ end }}')
    user = _branch(pieces, [("system", "system_to_user"), ("assistant", "assistant_to_user")], "start_to_user")
    assistant = _branch(pieces, [("user", "user_to_assistant"), ("system", "system_to_assistant")],
                        "start_to_assistant")
    text = ('{{ $prev := "start" }}' + system + "{{ range .Messages }}"
            f'{{{{ if eq .Role "user" }}}}{user}{{{{ .Content }}}}{{{{ $prev = "user" }}}}'
            f'{{{{ else if eq .Role "assistant" }}}}{assistant}{{{{ .Content }}}}{{{{ $prev = "assistant" }}}}'
            "{{ end }}{{ end }}"
            f'{{{{ if eq $prev "user" }}}}{_go(pieces["generation"] or "")}{{{{ end }}}}')
    return text, pieces


def _conversation(rows) -> list[dict]:
    return [{"role": role, "content": content} for role, content in rows]


def template_mismatches(template: str, go_text: str, tokens: dict) -> list[dict]:
    """The check conversations (those the Jinja template accepts) whose two renderings differ."""
    mismatches = []
    for rows in CHECK_CONVERSATIONS:
        messages = _conversation(rows)
        try:
            expected = render(template, messages, add_generation_prompt=True, tokens=tokens)
        except TemplateRefused:
            continue
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        got = render_go(go_text, system, messages)
        if got != expected:
            mismatches.append({"conversation": rows, "jinja": expected, "go": got})
    return mismatches


def _tokens(model_dir: Path) -> dict:
    # The runtime adds BOS itself when the GGUF asks for it; the template must not write it again.
    return {**special_token_texts(model_dir), "bos_token": ""}


def _quoted(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def _number(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def modelfile_text(model_dir: Path, gguf_name: str, stop: list[str],
                   serving: Serving | None = None) -> tuple[str, list[str]]:
    """The Modelfile, and notes on anything of the run it could not carry."""
    serving = serving or Serving()
    model_dir = Path(model_dir)
    lines, notes = [f"FROM ./{gguf_name}"], []
    template = load_chat_template(model_dir)
    pieces: dict = {}
    if template:
        go_text, pieces = go_template_from(template, _tokens(model_dir))
        mismatches = template_mismatches(template, go_text, _tokens(model_dir))
        if mismatches:
            notes.append(f"the chat template could not be written as an Ollama TEMPLATE (it differs on "
                         f"{len(mismatches)} test conversations); Ollama will use its own")
        else:
            lines.append(f"TEMPLATE {_quoted(go_text)}")
    for name, key in PARAMETERS:
        value = serving.settings.get(key)
        if value is not None and not (name == "seed" and value < 0):
            lines.append(f"PARAMETER {name} {_number(value)}")
    for text in dict.fromkeys(s for s in stop if s):
        lines.append(f'PARAMETER stop "{text}"')
    if serving.system_prompt:
        if template and pieces.get("system_open") is None:
            notes.append("the chat template has no place for a system prompt; the persona's is left out")
        else:
            lines.append(f"SYSTEM {_quoted(serving.system_prompt)}")
    if serving.greeting:
        step = "system_to_assistant" if serving.system_prompt and pieces.get("system_open") is not None \
            else "start_to_assistant"
        if template and pieces.get(step) is None:
            notes.append("the chat template has no place for a greeting before the first user message; "
                         "the persona's greeting is left out")
        else:
            lines.append(f"MESSAGE assistant {_quoted(serving.greeting)}")
    return "\n".join(lines) + "\n", notes


def ollama_command(name: str, modelfile: Path) -> str:
    """The one command that creates the Ollama model and starts a chat with it (Ollama names are lowercase)."""
    model = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "hearth"
    return f"ollama create {model} -f {shlex.quote(str(modelfile))} && ollama run {model}"
