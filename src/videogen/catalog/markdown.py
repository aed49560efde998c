"""Documentation generated from the code: docs/models.md from the families' cards.

`videogen models --markdown > docs/models.md` writes it; a test keeps the file in sync. Tooling at the top
of the package (beside the CLI): it reads the registry, nothing imports it.
"""

from __future__ import annotations

from ..families.card import ModelCard


def models_markdown() -> str:
    """docs/models.md, generated from the catalog (`videogen models --markdown`)."""
    from ..families import all_families

    lines = [
        "# Models",
        "",
        "Generated from the catalog by `videogen models --markdown > docs/models.md`; a test keeps it in sync.",
        "Sizes are width x height; frames and size rules are checked before any weight loads.",
        "",
    ]
    for fam in all_families():
        lines += [
            f"## {fam.name}",
            "",
            "| name | tasks | Hub repo | default size | frames | fps | steps | guidance | rules |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in sorted(fam.cards, key=lambda c: (bool(c.tiny), c.name)):
            lines.append(
                f"| `{c.name}` | {', '.join(c.tasks)} | {_repo(c)} | {c.width}x{c.height} | {c.num_frames} "
                f"| {c.fps} | {c.steps} | {c.guidance_scale:g} | {'; '.join(_rules(c))} |"
            )
        lines.append("")
    return "\n".join(lines)


def _rules(c: ModelCard) -> list[str]:
    rules = []
    if c.frame_rule:
        step, offset = c.frame_rule
        rules.append(f"frames {step}k+{offset}" if offset else f"frames multiple of {step}")
    if c.max_frames:
        rules.append(f"at most {c.max_frames} frames")
    rules.append(_sizes(c.sizes) if c.sizes else f"multiples of {c.size_multiple}")
    return rules


def _sizes(sizes: tuple[tuple[int, int], ...]) -> str:
    """A card's sizes: each of a few; for many (aspect-ratio buckets) how many and the widest and tallest."""
    shown = [f"{w}x{h}" for h, w in sizes]
    if len(shown) <= 8:
        return "sizes " + ", ".join(shown)
    wide, tall = max(sizes, key=lambda hw: hw[1] / hw[0]), max(sizes, key=lambda hw: hw[0] / hw[1])
    return f"{len(shown)} sizes by aspect ratio, {wide[1]}x{wide[0]} to {tall[1]}x{tall[0]}"


def _repo(c: ModelCard) -> str:
    if c.components:
        return " + ".join(sorted({r for r, _ in c.components.values()} | ({c.repo} if c.repo else set())))
    return c.repo or ("built offline (tiny)" if c.tiny else "")
