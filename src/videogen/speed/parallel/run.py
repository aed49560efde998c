"""Context parallelism, the running part (docs/scale.md): the process group once per process (`setup`), diffusers'
`enable_parallelism` on the denoisers right after a load (`enable`, with the CPU-only workaround) and what ran
(`record`). The setting's parsing, its checks before load and `is_main_process` are in `parallel.py`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from .checks import degrees, describe

if TYPE_CHECKING:
    from ...memory import MemoryPlan

logger = logging.getLogger("videogen")


def setup(device: str) -> None:
    """Once per process: pick this rank's GPU (`LOCAL_RANK`) and start the process group (NCCL on CUDA, gloo on
    the CPU) from torchrun's environment. A process group the caller started already is used as it is."""
    import torch
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise SpecError(
                f"parallel: this is local rank {local_rank} but the machine shows {count} GPU(s); start at most "
                f"{count} processes per machine (`torchrun --nproc-per-node {count}`), one per GPU",
                field="parallel",
            )
        torch.cuda.set_device(local_rank)
    if dist.is_initialized():
        return
    if cuda:
        dist.init_process_group(backend="nccl", device_id=torch.device("cuda", local_rank))
    else:
        dist.init_process_group(backend="gloo")
    import atexit

    atexit.register(_destroy)
    logger.info("parallel: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), dist.get_backend())


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


#: transformer class → the diffusers module whose attention processor calls `dispatch_attention_fn` with a text mask
#: repeated over the heads, shape (batch, heads, 1, tokens). diffusers 0.42.1's Ulysses attention splits the query
#: heads over the ranks but not that mask's head axis (a RuntimeError: huggingface/diffusers#14316; the open PR
#: #14317 shards it). Every head's mask is the same there, so the processor's calls get the first head's, which
#: broadcasts over however many heads a rank holds: the single-process frames exactly
#: (tests/speed/parallel/test_parallel.py). Only calls with a parallel config are touched; that test also runs LTX
#: without the workaround and expects diffusers' error, so a diffusers that fixes it says so (then drop this).
ULYSSES_MASK_WORKAROUND = {"LTXVideoTransformer3DModel": "diffusers.models.transformers.transformer_ltx"}
#: on/off switch for that workaround (the test turns it off to see diffusers' own behaviour)
ULYSSES_MASK_WORKAROUND_ON = True


def _head_mask_workaround(model: Any, ulysses: int) -> None:
    """Install `ULYSSES_MASK_WORKAROUND`'s wrapper (once per process) for `model`'s class under Ulysses."""
    import importlib

    module_name = ULYSSES_MASK_WORKAROUND.get(type(model).__name__)
    if module_name is None or ulysses < 2 or not ULYSSES_MASK_WORKAROUND_ON:
        return
    module = importlib.import_module(module_name)
    original = getattr(module, "dispatch_attention_fn")  # noqa: B009 - a module named at run time
    if getattr(original, "_videogen_head_mask", False):
        return

    def dispatch(query: Any, key: Any, value: Any, attn_mask: Any = None, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("parallel_config") is not None and attn_mask is not None and attn_mask.ndim == 4:
            attn_mask = attn_mask[:, :1]  # one head's mask: all heads' are the same, and it broadcasts
        return original(query, key, value, attn_mask, *args, **kwargs)

    dispatch._videogen_head_mask = True  # type: ignore[attr-defined]
    setattr(module, "dispatch_attention_fn", dispatch)  # noqa: B010
    logger.info("parallel: %s's text mask broadcast over the heads (huggingface/diffusers#14316)", module_name)


def enable(pipe: Any, setting: Mapping[str, int] | None, device: str) -> None:
    """Turn context parallelism on for the pipeline's denoisers (once, right after the load: the cache key
    holds the setting, so this pipeline is never used without it)."""
    if setting is None:
        return
    from diffusers import ContextParallelConfig, ParallelConfig

    from ...families.base import DENOISERS

    ulysses, ring = degrees(setting)
    for name in DENOISERS:
        model = getattr(pipe, name, None)
        if model is None or not hasattr(model, "enable_parallelism"):
            continue
        config = ParallelConfig(context_parallel_config=ContextParallelConfig(ulysses_degree=ulysses, ring_degree=ring))
        with _cpu_only_device_count(device):
            model.enable_parallelism(config=config)
        _head_mask_workaround(model, ulysses)
        logger.info("parallel: %s split %s", name, describe(setting))


@contextlib.contextmanager
def _cpu_only_device_count(device: str) -> Iterator[None]:
    """For a CPU-only torch: diffusers 0.42.1's `_resolve_parallel_config` picks the rank's device as
    `rank % torch.accelerator.device_count()`, which is 0 there (ZeroDivisionError). Within this block only, and only
    when running on the CPU with no accelerator, `device_count` answers 1 (the CPU), which is what lets the gloo test
    (and a CPU run) work. The GPU path never enters it."""
    import torch

    if not device.startswith("cpu") or torch.accelerator.device_count() != 0:
        yield
        return
    original = torch.accelerator.device_count
    torch.accelerator.device_count = lambda: 1
    try:
        yield
    finally:
        torch.accelerator.device_count = original


def record(pipe: Any, setting: Mapping[str, int] | None, plan: MemoryPlan) -> dict[str, Any] | None:
    """`result.metadata["parallel"]`: the degrees, the world size, the process-group and attention backends, and
    the denoisers that run split (read from the models, not the spec)."""
    if setting is None:
        return None
    import torch.distributed as dist

    from ...families.base import DENOISERS

    ulysses, ring = degrees(setting)
    split = [n for n in DENOISERS if getattr(getattr(pipe, n, None), "_parallel_config", None) is not None]
    return {
        "ulysses": ulysses,
        "ring": ring,
        "world_size": dist.get_world_size() if dist.is_initialized() else None,
        "backend": str(dist.get_backend()) if dist.is_initialized() else None,
        "attention_backend": plan.attention_backend or "native",
        "denoisers": split,
    }
