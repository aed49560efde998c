"""Which searched plan `auto` takes, and the reason it gives: pure, over candidates whose fits are set.

Under `quality="auto"` the fastest predicted plan that fits among the most faithful that fit (lossless, then
8-bit weights, then 4-bit); `"lossless"` only lossless plans; `"any"` the fastest that fits. A plan that
doesn't fit is taken only when none allowed fits (the most frugal, and the reason says so). Every plan the
reason suggests is one that fits (`hints`).
"""

from __future__ import annotations

from .estimate import gib
from .points import PLACEMENTS
from .search import FIDELITY_WORDS, LOSSLESS, Candidate

#: placements from least to most aggressive: the order among plans whose speed is unknown
_RANK = {name: i for i, name in enumerate(PLACEMENTS)}


def allowed(cand: Candidate, quality: str) -> bool:
    """Whether `quality` lets `auto` take this candidate's weights."""
    return quality != "lossless" or cand.fidelity == LOSSLESS


def choosable(cand: Candidate) -> bool:
    """Runs here, and is not a compile plan (auto never compiles: a warm-up of minutes)."""
    return cand.refused is None and not cand.plan.compile


def aggressiveness(cand: Candidate) -> int:
    """The placement's rank in PLACEMENTS (resident 0 ... sequential 5), read from the plan."""
    plan = cand.plan
    if plan.placement != "group":
        return _RANK[{"none": "resident"}.get(plan.placement, plan.placement)]
    levels = {p.offload for _, p in plan.components} | {plan.offload_type}
    if "leaf_level" in levels and any(p.offload == "leaf_level" for _, p in plan.components):
        return _RANK["leaf"]
    return _RANK["block" if plan.use_stream else "block-sync"]


def _rank(cand: Candidate) -> tuple:
    decode = cand.prediction.decode_s if cand.prediction is not None else 0.0
    return (cand.seconds, decode, aggressiveness(cand), cand.estimate.peak_gpu_bytes or 0, not cand.preset)


def fastest(cands: list[Candidate]) -> Candidate:
    """The fastest predicted per step (then the faster decode); among unknown speeds the least aggressive
    placement; then the smaller peak."""
    return min(cands, key=_rank)


def _frugal(cands: list[Candidate]) -> Candidate:
    """The plan closest to fitting: one whose GPU peak fits with the least RAM, else the one the least short
    of GPU memory and RAM together."""
    gpu_ok = [c for c in cands if c.fits_gpu]
    if gpu_ok:
        return min(gpu_ok, key=lambda c: (c.estimate.ram_bytes or 0, c.seconds))
    return min(cands, key=lambda c: (c.short, c.seconds))


def describe(cand: Candidate) -> str:
    """'<name>: predicted 12.3 s/step, peak 5.7 GiB, 24.1 GiB offloaded'."""
    speed = f"predicted {cand.seconds:.3g} s/step, " if cand.prediction is not None else ""
    ram = f", {gib(cand.estimate.ram_bytes)} offloaded to RAM" if cand.estimate.ram_bytes else ""
    return f"{cand.name} ({speed}peak {gib(cand.estimate.peak_gpu_bytes)}{ram})"


def pick(found: list[Candidate], quality: str, where: str, margin: str) -> tuple[Candidate, str, list[str]]:
    """(the plan auto takes, why, the plans the reason suggests: each one fits)."""
    usable = [c for c in found if choosable(c)]
    fitting = [c for c in usable if c.fits]
    pool = [c for c in fitting if allowed(c, quality)]
    on = f"fits {where} with a {margin} margin"
    if pool and quality == "auto":
        best_tier = min(c.fidelity for c in pool)
        pool = [c for c in pool if c.fidelity == best_tier]
    if pool:
        chosen = fastest(pool)
        tier = FIDELITY_WORDS[chosen.fidelity]
        reason = f"{describe(chosen)}: the fastest {tier if quality != 'any' else ''} plan that {on}".replace("  ", " ")
        if chosen.fidelity != LOSSLESS and quality == "auto":
            reason += "; no lossless plan fits, so the most faithful lossy weights that do (8-bit before 4-bit)"
        if chosen.prediction is None:
            reason += "; speeds unknown for this GPU (not in the table): the least aggressive placement"
        return chosen, reason, []
    lossless = [c for c in usable if c.fidelity == LOSSLESS] or usable
    if quality == "lossless" and fitting:
        chosen = _frugal(lossless)
        hint = fastest(fitting)
        reason = (
            f"no lossless plan {on}; {describe(chosen)} is the closest (expect swapping or running out of "
            f"memory); quality='auto' would take {describe(hint)}, which fits"
        )
        return chosen, reason, [hint.name]
    candidates = [c for c in usable if allowed(c, quality)] or usable
    chosen = _frugal(candidates)
    short = " and ".join(
        what
        for what, ok in (("GPU memory", chosen.fits_gpu), ("RAM for its offloaded weights", chosen.fits_ram))
        if not ok
    )
    reason = (
        f"no searched plan {on}; {describe(chosen)} comes closest, short of {short} (expect swapping or "
        "running out of memory)"
    )
    return chosen, reason, []
