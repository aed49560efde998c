"""The GPU table the speed predictions read, as data, and the `--gpu` / `--ram` values that name a machine.

Each figure is a vendor's published peak (dense, no sparsity: bf16 tensor math with float32 accumulation,
memory bandwidth) or the PCIe link's nominal rate; none was measured here. `size_gpu` maps a bare memory size
("12GB") to the table's representative card of that size, whose figures the predictions then use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class GPU:
    """One GPU's published figures."""

    key: str
    name: str
    memory_gib: float
    #: dense bf16 tensor TFLOP/s (float32 accumulation, as PyTorch's bf16 matmuls run)
    bf16_tflops: float
    #: memory bandwidth, GB/s
    memory_gbs: float
    #: host ↔ device link, GB/s each way (nominal: PCIe 4.0 x16 = 32, 5.0 x16 = 64, x8 half)
    pcie_gbs: float

    def label(self) -> str:
        return f"{self.name} ({self.memory_gib:g} GB)"


#: the table (docs/memory.md prints it); sources: NVIDIA's data sheets and architecture whitepapers
GPUS: dict[str, GPU] = {
    g.key: g
    for g in (
        GPU("h200", "H200 SXM", 141, 989.0, 4800, 64),
        GPU("h100", "H100 SXM", 80, 989.0, 3350, 64),
        GPU("a100", "A100 SXM 80GB", 80, 312.0, 2039, 32),
        GPU("l40s", "L40S", 48, 362.0, 864, 32),
        GPU("rtx5090", "RTX 5090", 32, 209.5, 1792, 64),
        GPU("rtx4090", "RTX 4090", 24, 165.2, 1008, 32),
        GPU("rtx4080", "RTX 4080", 16, 97.5, 717, 32),
        GPU("rtx4070", "RTX 4070", 12, 58.3, 504, 32),
        GPU("rtx4060", "RTX 4060", 8, 30.2, 272, 16),
        GPU("rtx3090", "RTX 3090", 24, 71.0, 936, 32),
        GPU("rtx3080", "RTX 3080", 10, 59.5, 760, 32),
        GPU("rtx3060", "RTX 3060", 12, 25.5, 360, 32),
    )
}
#: a bare memory size → the card whose figures stand for it (the commonest of that size)
BY_SIZE: dict[int, str] = {
    8: "rtx4060",
    10: "rtx3080",
    12: "rtx3060",
    16: "rtx4080",
    24: "rtx4090",
    32: "rtx5090",
    48: "l40s",
    80: "h100",
    141: "h200",
}
#: the GPU sizes and RAM sizes of the docs table (and of the "smallest machine that fits" answer)
TABLE_GPUS: tuple[int, ...] = (8, 12, 16, 24, 48, 80)
TABLE_RAMS: tuple[int, ...] = (32, 64)
#: the sizes tried when nothing fits: the smallest machine that does
LADDER_GPUS: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 80, 141)
LADDER_RAMS: tuple[int, ...] = (16, 32, 64, 128, 256, 512)


def size_gpu(gib: float) -> GPU:
    """The representative card for a bare memory size: the table's card of that size, else the nearest
    smaller one (its figures scale with nothing: a bare size names no speed), with the size asked for."""
    whole = int(round(gib))
    key = BY_SIZE.get(whole) or BY_SIZE[max([s for s in BY_SIZE if s <= whole] or [min(BY_SIZE)])]
    card = GPUS[key]
    if card.memory_gib == gib:
        return card
    return GPU(
        card.key, f"{gib:g} GB GPU, figures of an {card.name}", gib, card.bf16_tflops, card.memory_gbs, card.pcie_gbs
    )


def match_name(device_name: str) -> GPU | None:
    """The table's entry for a CUDA device name ("NVIDIA GeForce RTX 4090" → rtx4090), or None."""
    flat = re.sub(r"[^a-z0-9]", "", device_name.lower())
    for key in sorted(GPUS, key=len, reverse=True):
        if key in flat:
            return GPUS[key]
    return None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gib|gb|g)?\s*$", re.IGNORECASE)


def parse_size(value: object, what: str) -> float:
    """A memory size in GiB from 24, "24", "24GB" or "24 GiB"; ValueError naming `what` and an example."""
    if isinstance(value, bool):
        raise ValueError(f"{what}={value!r}: expected a size such as '24GB'")
    if isinstance(value, (int, float)):
        size = float(value)
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{what}={value!r}: expected a size such as '24GB' or 24")
        size = float(match.group(1))
    if not 0 < size < 1 << 20:
        raise ValueError(f"{what}={value!r}: expected a positive size such as '24GB'")
    return size


def parse_gpu(value: object) -> GPU:
    """`--gpu` / `plan(gpu=...)`: a table name ("rtx4090", "H100") or a memory size ("12GB", 12)."""
    if isinstance(value, GPU):
        return value
    text = re.sub(r"[^a-z0-9.]", "", str(value).lower())
    if text in GPUS:
        return GPUS[text]
    found = match_name(text) if not _SIZE.match(str(value)) else None
    if found is not None:
        return found
    try:
        return size_gpu(parse_size(value, "gpu"))
    except ValueError:
        raise ValueError(
            f"gpu={value!r} is neither a size such as '12GB' nor a GPU of the table: {', '.join(GPUS)}"
        ) from None


def markdown() -> str:
    """The GPU table of docs/memory.md (tests/memory/test_auto_search.py keeps the two in sync)."""
    rows = [
        "| GPU | `--gpu` | memory | bf16 TFLOP/s (dense) | memory GB/s | host link GB/s | stands for |",
        "|---|---|---|---|---|---|---|",
    ]
    sizes = {key: size for size, key in BY_SIZE.items()}
    for g in GPUS.values():
        stands = f"`--gpu {sizes[g.key]}GB`" if g.key in sizes else ""
        figures = f"{g.memory_gib:g} GB | {g.bf16_tflops:g} | {g.memory_gbs:g} | {g.pcie_gbs:g}"
        rows.append(f"| {g.name} | `{g.key}` | {figures} | {stands} |")
    return "\n".join(rows)
