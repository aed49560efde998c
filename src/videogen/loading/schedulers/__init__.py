"""`spec.scheduler`: a diffusers scheduler class name (+ keyword arguments), built from the pipeline's own.

Before weights load, from the stored signatures (`signatures`): the name is a scheduler class, its arguments are
its `__init__`'s with values that fit their annotations (`arguments`); the class is one the model's scheduler can
be swapped for, takes the timestep arguments the pipeline hands its `set_timesteps`, and makes the schedule the
call asks for (`schedule`: the model's scheduler config from its folder or its family; a swapped scheduler, or
the model's own on a schedule its defaults don't vouch for, run once by `dry_run`, which imports the class). At
the call: built from the pipeline's config and swapped in for that call (`build`).
"""

from .arguments import MAX_SCHEDULER_INT, check_scheduler_arguments, check_scheduler_build, check_scheduler_name
from .build import FLOW_SCHEDULERS, build_scheduler, parse_scheduler, scheduler_for_call
from .schedule import check_schedule, compatible_schedulers, pipeline_scheduler, usable_schedulers

__all__ = [
    "FLOW_SCHEDULERS",
    "MAX_SCHEDULER_INT",
    "build_scheduler",
    "check_schedule",
    "check_scheduler_arguments",
    "check_scheduler_build",
    "check_scheduler_name",
    "compatible_schedulers",
    "parse_scheduler",
    "pipeline_scheduler",
    "scheduler_for_call",
    "usable_schedulers",
]
