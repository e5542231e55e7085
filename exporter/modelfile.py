"""An Ollama `Modelfile` for an exported model: FROM the GGUF, a Go TEMPLATE that writes the same
prompt text as the model's Jinja chat template, its stop strings, and the persona's system prompt.

The template is not translated by hand per model family: the Jinja template is rendered with
stand-in messages, and the literal text it writes between them (`chat_template.turn_pieces`)
becomes the text between the Go template's actions. No whitespace-trimming markers are used, so
every newline of the original survives.
"""

from __future__ import annotations

from pathlib import Path

from exporter.chat_template import load_chat_template, special_token_texts, turn_pieces

GO_TEMPLATE = (
    '{{ $prev := "start" }}'
    '{{ if .System }}<system_open>{{ .System }}{{ $prev = "system" }}{{ end }}'
    '{{ range $i, $m := .Messages }}'
    '{{ if eq .Role "user" }}'
    '{{ if eq $prev "system" }}<system_to_user>{{ else if eq $prev "assistant" }}<assistant_to_user>'
    '{{ else }}<start_to_user>{{ end }}'
    '{{ .Content }}{{ if eq (len (slice $.Messages $i)) 1 }}<generation>{{ end }}{{ $prev = "user" }}'
    '{{ else if eq .Role "assistant" }}<user_to_assistant>{{ .Content }}{{ $prev = "assistant" }}'
    '{{ end }}{{ end }}'
)


def _go_literal(text: str) -> str:
    return text.replace("{{", '{{ "{{" }}')


def go_template(model_dir: Path) -> str | None:
    template = load_chat_template(model_dir)
    if not template:
        return None
    # The runtime adds BOS itself when the GGUF asks for it; the template must not write it again.
    tokens = {**special_token_texts(model_dir), "bos_token": ""}
    text = GO_TEMPLATE
    for key, piece in turn_pieces(template, tokens).items():
        text = text.replace(f"<{key}>", _go_literal(piece))
    return text


def _quoted(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def modelfile_text(model_dir: Path, gguf_name: str, stop: list[str], system_prompt: str | None = None) -> str:
    lines = [f"FROM ./{gguf_name}"]
    template = go_template(Path(model_dir))
    if template:
        lines.append(f"TEMPLATE {_quoted(template)}")
    for text in dict.fromkeys(s for s in stop if s):
        lines.append(f'PARAMETER stop "{text}"')
    if system_prompt:
        lines.append(f"SYSTEM {_quoted(system_prompt)}")
    return "\n".join(lines) + "\n"
