"""The import paths of modules that moved into subpackages keep working (with a DeprecationWarning).

`import videogen.specfile` gives `videogen.spec.files`, the same module object: nothing is copied.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "videogen.archs": "videogen.families.archs",
    "videogen.atomic": "videogen.media.atomic",
    "videogen.bench": "videogen.cli.bench",
    "videogen.bench.memory": "videogen.cli.bench.memory",
    "videogen.bench.output": "videogen.cli.bench.output",
    "videogen.bench.speed": "videogen.cli.bench.speed",
    "videogen.cards": "videogen.families",
    "videogen.cards.archs": "videogen.families.archs",
    "videogen.cards.card": "videogen.families.card",
    "videogen.cards.hub": "videogen.catalog.hub",
    "videogen.batch": "videogen.generation.batch",
    "videogen.batch.files": "videogen.generation.batch.files",
    "videogen.batch.local": "videogen.generation.batch.local",
    "videogen.batch.on_ray": "videogen.generation.batch.on_ray",
    "videogen.batch.ray_session": "videogen.generation.batch.ray_session",
    "videogen.batch_files": "videogen.generation.batch.files",
    "videogen.batch_ray": "videogen.generation.batch.on_ray",
    "videogen.bench_output": "videogen.cli.bench.output",
    "videogen.bench_speed": "videogen.cli.bench.speed",
    "videogen.caching": "videogen.speed.settings",
    "videogen.calibration": "videogen.generation.calibrate",
    "videogen.call_output": "videogen.generation.output",
    "videogen.callcheck": "videogen.checks.arguments",
    "videogen.card": "videogen.families.card",
    "videogen.cli_args": "videogen.cli.args",
    "videogen.cli_env": "videogen.cli.env",
    "videogen.cli_runs": "videogen.cli.runs",
    "videogen.docs": "videogen.catalog.markdown",
    "videogen.features": "videogen.generation.features",
    "videogen.features.base": "videogen.generation.features.base",
    "videogen.features.cancel": "videogen.generation.features.cancel",
    "videogen.features.lora": "videogen.generation.features.lora",
    "videogen.features.memory_plan": "videogen.generation.features.memory_plan",
    "videogen.features.parallel": "videogen.generation.features.parallel",
    "videogen.features.preview": "videogen.generation.features.preview",
    "videogen.features.scheduler": "videogen.generation.features.scheduler",
    "videogen.features.step_cache": "videogen.generation.features.step_cache",
    "videogen.fetch": "videogen.media.fetch",
    "videogen.finite": "videogen.spec.numbers",
    "videogen.fitting": "videogen.checks.fit",
    "videogen.generated": "videogen.runtime.stamps",
    "videogen.hub": "videogen.catalog.hub",
    "videogen.imports": "videogen.runtime.lock",
    "videogen.lora": "videogen.loading.lora",
    "videogen.parallel": "videogen.speed.parallel",
    "videogen.parallel.checks": "videogen.speed.parallel.checks",
    "videogen.parallel.run": "videogen.speed.parallel.run",
    "videogen.parallel_run": "videogen.speed.parallel.run",
    "videogen.pipeline": "videogen.loading.pipelines",
    "videogen.planning": "videogen.generation.plan_report",
    "videogen.ray_session": "videogen.generation.batch.ray_session",
    "videogen.replaying": "videogen.generation.replay",
    "videogen.result": "videogen.generation.result",
    "videogen.saving": "videogen.media.save",
    "videogen.schedulers": "videogen.loading.schedulers",
    "videogen.signatures": "videogen.catalog.signatures",
    "videogen.simulate": "videogen.memory.simulate",
    "videogen.specdict": "videogen.spec.plain",
    "videogen.specfile": "videogen.spec.files",
    "videogen.specformats": "videogen.spec.formats",
    "videogen.step_cache": "videogen.speed.hooks",
    "videogen.sweep": "videogen.spec.sweep",
    "videogen.tiny": "videogen.families.tiny",
    "videogen.tiny_parts": "videogen.families.tiny_parts",
    "videogen.unet_cache": "videogen.speed.deepcache",
    "videogen.validate": "videogen.checks.rules",
    "videogen.writers": "videogen.media.write",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        pass


def install() -> None:
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before the path finder: a moved submodule is never loaded twice
