"""The command's environment: `videogen env`, what to paste into a bug report (like `diffusers-cli env`), and
`third_party_output`, what the libraries may print on stderr while a command runs.

`videogen env`: versions of videogen, Python and the libraries it drives, the platform, the accelerator (CUDA,
GPUs, MPS, the device videogen picks), the cache folders and the environment variables that change what
videogen does. Versions are read from the installed distributions (no import); only the accelerator's lines
import torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: shown name → distribution name; the first group always, the optional ones only when installed
LIBRARIES = (
    ("torch", "torch"),
    ("diffusers", "diffusers"),
    ("transformers", "transformers"),
    ("accelerate", "accelerate"),
    ("huggingface_hub", "huggingface_hub"),
    ("safetensors", "safetensors"),
    ("numpy", "numpy"),
    ("imageio-ffmpeg", "imageio-ffmpeg"),
)
OPTIONAL = (
    ("peft", "peft"),
    ("torchao", "torchao"),
    ("optimum-quanto", "optimum-quanto"),
    ("bitsandbytes", "bitsandbytes"),
    ("gguf", "gguf"),
    ("cache-dit", "cache-dit"),
    ("flash-attn", "flash-attn"),
    ("sageattention", "sageattention"),
    ("xformers", "xformers"),
    ("ray", "ray"),
)
#: environment variables that change what videogen (or the Hub client it uses) does
ENV_VARS = (
    "VIDEOGEN_CACHE",
    "VIDEOGEN_CACHE_SIZE",
    "VIDEOGEN_DEVICE",
    "VIDEOGEN_ASSUME_GPU_GIB",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "CUDA_VISIBLE_DEVICES",
)


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def accelerator() -> dict[str, Any]:
    """torch's view of the accelerator: CUDA build and devices, or MPS; nothing when torch is missing."""
    try:
        import torch
    except ImportError:
        return {"torch": None}
    info: dict[str, Any] = {"cuda_build": torch.version.cuda, "cuda_available": torch.cuda.is_available(), "gpus": []}
    if info["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            info["gpus"].append(
                {
                    "name": props.name,
                    "memory_gib": round(props.total_memory / 2**30, 1),
                    "capability": f"{props.major}.{props.minor}",
                }
            )
        info["cudnn"] = torch.backends.cudnn.version()
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps is not None and mps.is_available())
    from ..runtime.devices import pick_device

    info["device"] = pick_device()  # what videogen runs on here (VIDEOGEN_DEVICE, cuda, mps, cpu)
    return info


def env_info() -> dict[str, Any]:
    """Everything `videogen env` shows, as a JSON-friendly dict."""
    from .. import __version__
    from ..families.tiny import cache_root

    libraries = {name: _version(dist) or "not installed" for name, dist in LIBRARIES}
    optional = {name: v for name, dist in OPTIONAL if (v := _version(dist))}
    try:
        from huggingface_hub import constants

        hf_cache: str | None = str(constants.HF_HUB_CACHE)
    except ImportError:
        hf_cache = None
    return {
        "videogen": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        "platform": platform.platform(),
        "libraries": libraries,
        "optional": optional,
        "accelerator": accelerator(),
        "cache": {"videogen": str(cache_root()), "huggingface": hf_cache},
        "environment": {name: os.environ[name] for name in ENV_VARS if name in os.environ},
    }


def format_env(info: dict[str, Any]) -> str:
    """The text `videogen env` prints: one `- name: value` line each, ready to paste into an issue."""
    acc = info["accelerator"]
    lines = [
        "Copy and paste the text below into your GitHub issue.",
        "",
        f"- videogen: {info['videogen']}",
        f"- Python: {info['python']}",
        f"- Platform: {info['platform']}",
    ]
    lines += [f"- {name}: {v}" for name, v in info["libraries"].items()]
    if info["optional"]:
        lines.append("- optional: " + ", ".join(f"{name} {v}" for name, v in info["optional"].items()))
    if "cuda_build" in acc:
        lines.append(f"- CUDA (torch build): {acc['cuda_build'] or 'none (CPU build)'}")
        gpus = acc["gpus"]
        if gpus:
            for i, g in enumerate(gpus):
                lines.append(f"- GPU {i}: {g['name']}, {g['memory_gib']} GiB, compute {g['capability']}")
        else:
            lines.append("- GPUs: none visible" + (" (MPS available)" if acc.get("mps_available") else ""))
        lines.append(f"- videogen device: {acc['device']}")
    lines.append(f"- videogen cache: {info['cache']['videogen']}")
    lines.append(f"- Hugging Face cache: {info['cache']['huggingface'] or 'huggingface_hub not installed'}")
    env = info["environment"]
    unset = "none of " + ", ".join(ENV_VARS) + " is set"
    lines.append("- environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) or unset))
    return "\n".join(lines)


# ---- what the command prints besides its results: third-party output quieted, videogen's warnings as log lines
#: third-party loggers that warn about their own set-up when imported, not about the user's video: torchao's
#: C++ extensions and tensor classes (diffusers and transformers import torchao whenever it is installed, for
#: any plan), transformers' torchvision fallbacks, torch's pytree registrations. Errors only, unless -v.
NOISY_LOGGERS = (
    "torchao",
    "diffusers.quantizers.torchao",
    "transformers.quantizers.quantizer_torchao",
    "transformers.utils.import_utils",
    "torch.utils._pytree",
)
#: torch's compiler loggers: torch resets them when imported, so they are set through TORCH_LOGS before that
TORCH_COMPILER_LOGS = ("torch._dynamo", "torch._inductor")
#: a third-party log line longer than this is cut to its first `KEEP_CHARS` characters (diffusers' notice of
#: a truncated prompt quotes everything it cut: an 18,000-character prompt made an 18,000-character line)
LONG_RECORD_CHARS, KEEP_CHARS = 500, 300


@contextlib.contextmanager
def third_party_output(verbose: bool, quiet: bool) -> Iterator[None]:
    """For one command: the noisy loggers at errors only (unless -v); with -q diffusers and transformers too,
    and the Hub libraries' progress bars (a tiny model's first build saves weights) off;
    long third-party log lines shortened, and videogen's warnings (snap, save) as `videogen: ...` log lines.
    Everything is put back afterwards (the CLI can be called in-process); the user's environment wins."""
    from ..errors import SaveWarning, SnapWarning

    levels: dict[str, int] = {}
    env: dict[str, str] = {}
    if not verbose:
        levels = dict.fromkeys(NOISY_LOGGERS, logging.ERROR)
        env["TORCH_LOGS"] = "-all" if quiet else "-dynamo,-inductor"  # TORCH_COMPILER_LOGS, as TORCH_LOGS names them
        if "torch" in sys.modules:  # already imported (an in-process call): TORCH_LOGS was read already
            levels.update(dict.fromkeys(TORCH_COMPILER_LOGS + (("torch",) if quiet else ()), logging.ERROR))
    if quiet:  # -q logs errors only (diffusers' and transformers' own handlers too) and shows no progress bars
        levels.update(dict.fromkeys(("diffusers", "transformers"), logging.ERROR))
        env.update(DIFFUSERS_VERBOSITY="error", TRANSFORMERS_VERBOSITY="error", HF_HUB_DISABLE_PROGRESS_BARS="1")
    saved_levels = {name: logging.getLogger(name).level for name in levels}
    added_env = [name for name in env if name not in os.environ]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    for name in added_env:
        os.environ[name] = env[name]
    factory = logging.getLogRecordFactory()
    show = warnings.showwarning
    videogen_logger = logging.getLogger("videogen")

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _shortened(factory(*args, **kwargs))

    def show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, (SnapWarning, SaveWarning)):  # at the user's call: here, the command line
            videogen_logger.warning("%s", message)
        else:
            show(message, category, *args, **kwargs)

    logging.setLogRecordFactory(make_record)
    warnings.showwarning = show_warning
    try:
        yield
    finally:
        warnings.showwarning = show
        logging.setLogRecordFactory(factory)
        for name in added_env:
            os.environ.pop(name, None)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def _shortened(record: logging.LogRecord) -> logging.LogRecord:
    """A third-party record whose message is longer than `LONG_RECORD_CHARS`, cut (videogen's own stay whole)."""
    if record.name == "videogen" or record.name.startswith("videogen."):
        return record
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record: logging reports it itself when it is emitted
        return record
    if len(text) > LONG_RECORD_CHARS:
        record.msg, record.args = f"{text[:KEEP_CHARS]} … [{len(text) - KEEP_CHARS} more characters]", ()
    return record
