"""`videogen env`: what to paste into a bug report (like `diffusers-cli env`).

Versions of videogen, Python and the libraries it drives, the platform, the accelerator (CUDA, GPUs), the
cache folders and the environment variables that change what videogen does. Versions are read from the
installed distributions (no import); only the accelerator's lines import torch.
"""

from __future__ import annotations

import os
import platform
import sys
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
    from .runtime import pick_device

    info["device"] = pick_device()  # what videogen runs on here (VIDEOGEN_DEVICE, cuda, mps, cpu)
    return info


def env_info() -> dict[str, Any]:
    """Everything `videogen env` shows, as a JSON-friendly dict."""
    from . import __version__
    from .tiny import cache_root

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
