"""Chat templates from strangers (a model directory's or a GGUF's): loops that never end, strings
multiplied to gigabytes, reaches for Python internals. Export refuses them in one line, exit 2;
chat warns once and speaks ChatML. Always in seconds and little memory."""

from __future__ import annotations

import json
import shutil

import gguf
import pytest
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata
from hostile_run import hearth

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
def test_export_refuses_a_hostile_template_in_one_line(kind, tiny_base_dir, tmp_path, hearth_home):
    template, said = HOSTILE[kind]
    model = model_with_template(tiny_base_dir, tmp_path / "model", template)
    out = tmp_path / "out" / "model.gguf"
    out.parent.mkdir()

    done = hearth(["convert", str(model), str(out)], hearth_home, timeout=120)

    line = done.one_line_error()
    assert said in line and "chat template" in line
    assert done.peak_rss_mb < 1500  # a 2 GB string would be built whole otherwise
    assert list(out.parent.iterdir()) == []  # no GGUF, no partial file


@pytest.mark.parametrize("kind", ("never ends", "gigabytes", "broken"))
def test_chat_with_a_gguf_whose_template_is_hostile_warns_and_speaks_chatml(kind, tiny_gguf, tmp_path, hearth_home):
    template, said = HOSTILE[kind]
    model = gguf_with_template(tiny_gguf, tmp_path / "hostile.gguf", template)

    done = hearth(["chat", "--model", str(model), "--max-tokens", "4"], hearth_home, timeout=120, stdin="你好\n")

    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and said in warnings[0] and "ChatML" in warnings[0], done.stderr
    assert "Traceback" not in done.stderr
    assert done.peak_rss_mb < 1500


def test_verify_against_a_gguf_whose_template_builds_gigabytes_is_one_line(tiny_base_dir, tiny_gguf, tmp_path,
                                                                           hearth_home):
    model = gguf_with_template(tiny_gguf, tmp_path / "hostile.gguf", GIGABYTES)

    done = hearth(["verify", str(tiny_base_dir), str(model)], hearth_home, timeout=300)

    line = done.one_line_error()
    assert "GGUF's chat template" in line and "builds too much" in line
    assert done.peak_rss_mb < 1500  # llama-cpp-python's own Jinja would build the 2 GB string as it loads the file


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


def test_every_amplifier_is_refused_before_it_allocates(hearth_home):
    done = hearth([json.dumps(AMPLIFIERS)], hearth_home, timeout=120, module="render_amplifiers")
    assert done.returncode == 0, done.stderr
    for source, said in zip(AMPLIFIERS, json.loads(done.stdout)):
        assert "builds too much" in said, (source, said)
    assert done.peak_rss_mb < 500  # each would be gigabytes
