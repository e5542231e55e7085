"""A real tiny GGUF for the chat screen's tests (converted once from the session's tiny base), and a
fake training child for the cancel paths (a real one takes seconds to import torch)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_gguf(tiny_base_dir, tmp_path_factory):
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("tui-gguf") / "tiny-f16.gguf", "f16")


# A stand-in for `python -m tuner train RUN_DIR`: one step, then it waits for SIGINT and stops with a
# checkpoint, as the real one does; with `crash` it dies after the step without a word on stdout.
FAKE_TRAINER = '''
import json, os, signal, sys, threading
stop = threading.Event()
signal.signal(signal.SIGINT, lambda *_: stop.set())
def emit(**event):
    print(json.dumps(event), flush=True)
emit(event="step", step=3, max_steps=10, loss=2.5)
print("a library printing on stdout", flush=True)
if "crash" in sys.argv:
    print("Traceback: ValueError: the model exploded", file=sys.stderr, flush=True)
    sys.exit(1)
if not stop.wait(30):
    sys.exit(9)
for run in (arg for arg in sys.argv[1:] if os.path.isdir(arg)):
    os.makedirs(os.path.join(run, "checkpoints", "checkpoint-3"), exist_ok=True)
emit(event="saved", path="checkpoint-3", step=3)
emit(event="done", cancelled=True, step=3)
'''


@pytest.fixture
def fake_trainer(tmp_path, monkeypatch):
    (tmp_path / "fake_trainer.py").write_text(FAKE_TRAINER, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "fake_trainer"
