"""Generating `configs/planning.json` (memory/stored.py) from the installed diffusers, transformers and torch.

    python -m videogen.memory.regenerate --write     # write it
    python -m videogen.memory.regenerate             # check it is current (exit 1 if not)

For every catalog architecture (`configs/<arch>.json`), each component's parameter counts built on the meta
device; for every component class there and every model class a catalog pipeline's `__init__` names, what it
supports and its default config; for every catalog pipeline class, its annotated model components and whether
it batches guidance. Everything is read the live way (what planning does without the stored file).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..families.archs import arch_config, known_archs
from ..runtime.stamps import write_or_check
from .activations import live_defaults
from .components import Component, live_annotated_components, live_batches_guidance, probe_capabilities
from .estimate import config_key, counted_stats
from .stored import FILE, REGENERATE, installed_versions, stats_key, storable


def _arch_parts(arch: str) -> dict[str, dict[str, Any]]:
    """Every component of an architecture, by name (`<pipeline class>/<name>` for a pipeline's own variant)."""
    config = arch_config(arch) or {}
    parts = dict(config.get("components", {}))
    for pipeline_class, variant in sorted(config.get("by_pipeline", {}).items()):
        parts.update({f"{pipeline_class}/{name}": part for name, part in variant.items()})
    return parts


def _counted(class_name: str, library: str, config: dict[str, Any]) -> dict[str, Any] | None:
    try:
        key = config_key(Component("x", class_name, library, config))
        return dataclasses.asdict(counted_stats(class_name, library, key))
    except Exception:  # noqa: BLE001 - as estimate.module_stats: a config that can't be built has no counts
        return None


def _storable_defaults(class_name: str, library: str) -> dict[str, Any] | None:
    """The class defaults as stored, or None when they would not read back equal (then read live)."""
    return storable(live_defaults(class_name, library))


def generate() -> dict[str, Any]:
    from ..families import known_pipeline_classes

    stats: dict[str, dict[str, Any]] = {}
    classes: dict[str, str] = {}
    for arch in known_archs():
        if arch_config(arch) is None or "components" not in (arch_config(arch) or {}):
            continue
        stats[arch] = {}
        for name, part in _arch_parts(arch).items():
            config = part["config"]
            key = config_key(Component("x", part["class"], part["library"], config))
            stats[arch][name] = {
                "class": part["class"],
                "key": stats_key(part["class"], part["library"], key),
                "stats": _counted(part["class"], part["library"], config),
            }
            classes[part["class"]] = part["library"]
    pipelines = {}
    for pipeline_class in sorted(known_pipeline_classes()):
        comps = live_annotated_components(pipeline_class)
        pipelines[pipeline_class] = {
            "components": [[c.name, c.class_name, c.library] for c in comps],
            "batches_guidance": live_batches_guidance(pipeline_class),
        }
        classes.update({c.class_name: c.library for c in comps})
    described = {}
    for class_name, library in sorted(classes.items()):
        entry: dict[str, Any] = {"library": library}
        try:
            entry["capabilities"] = dataclasses.asdict(probe_capabilities(class_name, library))
        except (ImportError, AttributeError):  # as context(): no capabilities known
            pass
        defaults = _storable_defaults(class_name, library)
        if defaults is not None:
            entry["defaults"] = defaults
        described[class_name] = entry
    return {
        "versions": installed_versions(),
        "regenerate": REGENERATE,
        "stats": stats,
        "classes": described,
        "pipelines": pipelines,
    }


def dumps(data: dict[str, Any]) -> str:
    """The stored file's text: one component, class or pipeline per line (readable diffs)."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    lines = ["{", f' "versions": {one(data["versions"])},', f' "regenerate": {one(data["regenerate"])},']
    for section in ("stats", "classes", "pipelines"):
        lines.append(f' "{section}": {{')
        items = list(data[section].items())
        for i, (name, entry) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            if section == "stats":
                lines.append(f"  {one(name)}: {{")
                lines.append(",\n".join(f"   {one(part)}: {one(value)}" for part, value in entry.items()))
                lines.append("  }" + comma)
            else:
                lines.append(f"  {one(name)}: {one(entry)}{comma}")
        lines.append(" }" + ("," if section != "pipelines" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(
        argv,
        "python -m videogen.memory.regenerate",
        (__doc__ or "").split("\n")[0],
        FILE,
        lambda: dumps(generate()),
        REGENERATE,
    )


if __name__ == "__main__":
    raise SystemExit(main())
