"""The test command installs a pinned set (constraints.txt), the stored data is generated from that set, and the
refresh script installs what the test command installs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from videogen.catalog.signatures import FILE as SIGNATURES
from videogen.memory import stored

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt pins with ==: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins


def _test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- test-command -->", 1)[1].split("<!-- /test-command -->", 1)[0]
    return next(line for line in block.splitlines() if line.startswith("python3 -m venv"))


def test_the_test_command_installs_the_pinned_set() -> None:
    command = _test_command()
    installs = re.findall(r"pip install ([^&]+)", command)
    assert len(installs) == 2 and all(i.startswith("-c constraints.txt ") for i in installs), installs
    assert f"torch=={_pins()['torch']}" in command


def test_the_stored_data_is_generated_from_the_pinned_versions() -> None:
    pins = _pins()
    planning = json.loads(stored.FILE.read_text(encoding="utf-8"))["versions"]
    planning = {lib: version.split("+")[0] for lib, version in planning.items()}  # 2.13.0+cpu: torch's build tag
    assert planning == {lib: pins[lib] for lib in stored.LIBRARIES}, "regenerate: bash tools/refresh-constraints.sh"
    assert json.loads(SIGNATURES.read_text(encoding="utf-8"))["diffusers"] == pins["diffusers"]


def test_the_refresh_script_installs_the_test_commands_extras() -> None:
    script = (ROOT / "tools" / "refresh-constraints.sh").read_text(encoding="utf-8")
    extras = re.search(r'^EXTRAS="([^"]+)"', script, re.MULTILINE)
    assert extras and f'-e ".[{extras.group(1)}]"' in _test_command()
