"""videogen's error types. Every mistake a user can make ends in one of these."""

from __future__ import annotations


class VideoGenError(Exception):
    """Base class of every error videogen raises on purpose."""


class SpecError(VideoGenError, ValueError):
    """A spec field breaks a rule of the model or of videogen.

    The message names the field, the rule and a valid value. Raised before any weight loads.
    """

    def __init__(self, message: str, *, field: str | None = None, valid: object = None):
        super().__init__(message)
        self.field = field
        self.valid = valid


class ModelNotFoundError(SpecError):
    """`spec.model` names no catalog entry, no local pipeline folder and no reachable Hub repo."""


class MissingDependencyError(VideoGenError, ImportError):
    """An optional package is needed for what the spec asks; the message names the pip extra."""


class Cancelled(VideoGenError):
    """The generation was cancelled (`on_step` returned False, or its `CancelToken` was set, or its `agenerate`
    task was cancelled): it stopped at a checkpoint and nothing was written."""


class SnapWarning(UserWarning):
    """`snap=True` rounded a spec value to the nearest one the model accepts."""


class SaveWarning(UserWarning):
    """A save adapted the video to its format: padded an odd mp4 size, or rounded a GIF's frame delay."""


class SaveError(VideoGenError, OSError):
    """The output could not be written (folder not creatable or writable, disk full, ffmpeg failed)."""


class OutputExistsError(VideoGenError, FileExistsError):
    """The output path exists and `overwrite=True` was not given."""


def user_stacklevel() -> int:
    """The `stacklevel` that makes a `warnings.warn` in the function calling this point at the first frame
    outside videogen: the user's call, however deep inside videogen (generate, generate_many, a batch) it ran.
    """
    import sys

    frame = sys._getframe(1)  # the function that warns: stacklevel 1
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "videogen":
        frame = frame.f_back
        level += 1
    return level
