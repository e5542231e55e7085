"""Chat templates from strangers (a model directory's or a GGUF's): loops that never end, strings
multiplied to gigabytes, reaches for Python internals. Export refuses them in one line, exit 2;
chat warns once and speaks ChatML. Always in seconds and little memory."""

from __future__ import annotations

import shutil

import gguf
import pytest
from bounded import hearth, run_bounded
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

NEVER_ENDS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
GIGABYTES = "{% for m in messages %}{{ m['content'] }}{% endfor %}{{ 'x' * 2000000000 }}"
ESCAPES_SANDBOX = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
BROKEN = "{% for m in messages %}{{ m['content'] }}"

HOSTILE = {"never ends": (NEVER_ENDS, "took longer than"), "gigabytes": (GIGABYTES, "builds too much"),
           "sandbox": (ESCAPES_SANDBOX, "sandbox forbids"), "broken": (BROKEN, "not valid Jinja")}


def model_with_template(tiny_base_dir, folder, template: str):
    shutil.copytree(tiny_base_dir, folder)
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    return folder


def gguf_with_template(source, target, template: str):
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(target), arch=arch, endianess=reader.endianess)
    chat_template = MetadataDetails(gguf.GGUFValueType.STRING, template)
    copy_with_new_metadata(reader, writer, {gguf.Keys.Tokenizer.CHAT_TEMPLATE: chat_template}, [])
    return target


@pytest.mark.parametrize("kind", HOSTILE)
def test_export_refuses_a_hostile_template_in_one_line(kind, tiny_base_dir, tmp_path):
    template, said = HOSTILE[kind]
    model = model_with_template(tiny_base_dir, tmp_path / "model", template)
    out = tmp_path / "out" / "model.gguf"
    out.parent.mkdir()

    done = run_bounded(hearth("convert", str(model), str(out)), timeout=120)

    assert done.rc == 2, done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "chat template" in lines[0], done.err
    assert "Traceback" not in done.err + done.out
    assert done.peak_mb < 1500  # a 2 GB string would be built whole otherwise
    assert list(out.parent.iterdir()) == []  # no GGUF, no partial file


@pytest.mark.parametrize("kind", ("never ends", "gigabytes", "broken"))
def test_chat_with_a_gguf_whose_template_is_hostile_warns_and_speaks_chatml(kind, tiny_gguf, tmp_path):
    template, said = HOSTILE[kind]
    model = gguf_with_template(tiny_gguf, tmp_path / "hostile.gguf", template)

    done = run_bounded(hearth("chat", "--model", str(model), "--max-tokens", "4"), timeout=120, stdin="你好\n")

    assert done.rc == 0, done.err
    warnings = [line for line in done.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and said in warnings[0] and "ChatML" in warnings[0], done.err
    assert "Traceback" not in done.err
    assert done.peak_mb < 1500


def test_verify_against_a_gguf_whose_template_builds_gigabytes_is_one_line(tiny_base_dir, tiny_gguf, tmp_path):
    model = gguf_with_template(tiny_gguf, tmp_path / "hostile.gguf", GIGABYTES)

    done = run_bounded(hearth("verify", str(tiny_base_dir), str(model)), timeout=300)

    assert done.rc == 2, done.err
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and "GGUF's chat template" in lines[0] and "builds too much" in lines[0], done.err
    assert done.peak_mb < 1500  # llama-cpp-python's own Jinja would build the 2 GB string as it loads the file


# Each builds gigabytes, or an integer of millions of digits, in one step unless refused first.
AMPLIFIERS = (
    "{{ 'x' * 10000000000 }}",
    "{% set s = 'x' * 1000000 %}{{ s * 1000 }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(l=['ab']) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
    "{{ 9 ** 99999999 }}",
    "{{ 'a'|center(1000000000) }}",
    "{{ 'a'.ljust(1000000000) }}",
    "{{ ('a' * 1000)|replace('a', 'b' * 1000000) }}",
    "{{ ('a' * 1000).replace('', 'b' * 1000000) }}",
    "{{ '%999999999s' % 'a' }}",
    "{{ '%*s' % (999999999, 'a') }}",
    "{{ '{:999999999}'.format('a') }}",
    "{{ ('{:3999999}' * 1000).format(*range(1000)) }}",
    "{{ (['x' * 3000] * 1000)|join('y' * 1000) }}",
    "{{ ('y' * 1000).join(['x' * 3000] * 1000) }}",
    "{{ ('a\n' * 1000000)|indent(1000) }}",
    "{{ ('a' * 1000000)|wordwrap(1, wrapstring='z' * 1000) }}",
    "{{ messages|tojson(indent=1000000) }}",
    "{% for m in messages %}{{ 'x' * 3000000 }}{{ 'x' * 3000000 }}{% endfor %}",
)

_RENDER_ALL = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))  # 2 GB: a regression fails, not the machine
from hearth.chat_template import SandboxedTemplate, TemplateFailed
said = []
for source in json.loads(sys.argv[1]):
    try:
        SandboxedTemplate(source).render(messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True)
        said.append("rendered")
    except TemplateFailed as exc:
        said.append(str(exc))
    except MemoryError:
        said.append("MemoryError")
print(json.dumps(said))
"""


def test_every_amplifier_is_refused_before_it_allocates():
    import json
    import sys

    done = run_bounded([sys.executable, "-c", _RENDER_ALL, json.dumps(AMPLIFIERS)], timeout=120)
    assert done.rc == 0, done.err
    for source, said in zip(AMPLIFIERS, json.loads(done.out)):
        assert "builds too much" in said, (source, said)
    assert done.peak_mb < 300
