"""`attention_backend="auto"`: the fastest attention backend installed for the device.

On a CPU that is torch's SDPA (`native`): diffusers' other CPU backends (`_native_math`, `flex`) are slower
there. On a CUDA GPU, in order: FlashAttention 3 (`_flash_3`, Hopper only, `flash_attn_interface` built from
source), FlashAttention 2 (`flash`, the `flash-attn` package), SageAttention (`sage`: INT8 Q·K, approximate — it
changes frames slightly, which the plan's note says), else `native` (torch's SDPA, which already picks its own
flash / memory-efficient kernels). Backends that download kernels from the Hub (`*_hub`) are never chosen:
`auto` must not reach the network. The choice is made before weights load and recorded in the resolved plan.
"""

from __future__ import annotations

#: CUDA candidates, fastest first: (backend, why; shown in the plan's note)
CUDA_ORDER: tuple[tuple[str, str], ...] = (
    ("_flash_3", "FlashAttention 3 is installed and the GPU is a Hopper"),
    ("flash", "flash-attn is installed"),
    ("sage", "sageattention is installed (INT8 Q·K: approximate)"),
)


def fastest_backend(cuda: bool) -> tuple[str, str]:
    """(backend, reason) for `attention_backend="auto"` on this machine."""
    if not cuda:
        return "native", "torch's SDPA is the fastest attention diffusers has on a CPU"
    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    for backend, why in CUDA_ORDER:
        if backend == "_flash_3" and not _is_hopper():
            continue
        try:
            _check_attention_backend_requirements(AttentionBackendName(backend))
        except RuntimeError:
            continue
        return backend, why
    return "native", "no flash-attn or sageattention installed: torch's SDPA (its own flash kernels)"


def _is_hopper() -> bool:
    import torch

    try:
        return torch.cuda.get_device_capability()[0] == 9
    except (RuntimeError, AssertionError):
        return False
