"""`VideoSpec.parallel` (context parallelism under torchrun, docs/scale.md): refusals before load, the process
group before the load, diffusers' `enable_parallelism` after it, one rank's progress, the metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class ParallelFeature(Feature):
    name = "context parallelism"

    def check(self, prepared: Prepared) -> Prepared:
        from ...speed.parallel.checks import check

        p = prepared
        check(p.spec, p.card, p.family, p.class_name, p.plan, p.device)
        return p

    def check_before_load(self, prepared: Prepared) -> None:
        from ...speed.parallel.checks import check_launch

        check_launch(prepared.spec, prepared.device)  # started by torchrun, one process per GPU

    def cache_key(self, prepared: Prepared) -> Any:
        from ...speed.parallel.checks import cache_part

        return cache_part(prepared.spec.parallel)  # a pipeline split over GPUs is never reused for another setting

    def shows_progress(self, prepared: Prepared) -> bool:
        from ...speed.parallel.checks import is_main_process

        return prepared.spec.parallel is None or is_main_process()

    def may_retry(self, prepared: Prepared) -> bool:
        return prepared.spec.parallel is None  # one rank retrying alone would hang the others

    def before_load(self, prepared: Prepared) -> None:
        from ...speed.parallel.run import setup

        if prepared.spec.parallel is not None:
            setup(prepared.device)

    def after_load(self, pipe: Any, prepared: Prepared) -> None:
        from ...speed.parallel.run import enable

        enable(pipe, prepared.spec.parallel, prepared.device)

    def record(self, pipe: Any, prepared: Prepared, during: Any) -> dict[str, Any]:
        from ...speed.parallel.run import record

        return {"parallel": record(pipe, prepared.spec.parallel, prepared.plan)}
