"""`python -m render_amplifiers JSON`: render each template of the JSON list in hearth's sandbox, under
a 2 GB address-space limit (a regression fails, not the machine), and print what each one said."""

from __future__ import annotations

import json
import resource
import sys

resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))

from hearth.chat_template import SandboxedTemplate, TemplateFailed  # noqa: E402 (after the limit)


def said(source: str) -> str:
    try:
        SandboxedTemplate(source).render(messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True)
        return "rendered"
    except TemplateFailed as exc:
        return str(exc)
    except MemoryError:
        return "MemoryError"


if __name__ == "__main__":
    print(json.dumps([said(source) for source in json.loads(sys.argv[1])]))
