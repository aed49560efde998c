"""`import videogen` is instant: no torch, no diffusers until the first real call."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_torch_or_diffusers() -> None:
    code = (
        "import sys, videogen\n"
        "videogen.VideoSpec; videogen.SpecError; videogen.list_models()\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_generation_module_keeps_generate_callable() -> None:
    code = (
        "import videogen.generation.flow, videogen\n"
        "from videogen.generation.flow import prepare\n"
        "assert callable(videogen.generate) and videogen.generate is videogen.generation.flow.generate\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
