"""Cancellation inside the VAE decode: while a generation with a cancel token runs (`generate(cancel=...)`,
runtime/cancel.py), a forward pre-hook on the VAE's decoder checks the token before each chunk it decodes
(frame by frame for Wan, frame batches for CogVideoX, `decode_chunk_size` for SVD, tiles when tiling), so a
minutes-long decode stops at the next chunk. The loading and the steps check it elsewhere (loading/pipelines.py,
the flow's step callback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Feature

if TYPE_CHECKING:
    from ...generation.flow import Prepared


class CancelFeature(Feature):
    name = "cancel"

    def around_call(self, pipe: Any, prepared: Prepared) -> AbstractContextManager[Any]:
        from ...runtime.cancel import current

        decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
        if current() is None or not hasattr(decoder, "register_forward_pre_hook"):
            return contextlib.nullcontext()
        return _checked(decoder)


@contextlib.contextmanager
def _checked(decoder: Any) -> Iterator[None]:
    from ...runtime.cancel import checkpoint

    counter = {"chunk": 0}

    def check(_module: Any, _args: tuple) -> None:
        counter["chunk"] += 1
        checkpoint(f"before VAE decode chunk {counter['chunk']}")

    handle = decoder.register_forward_pre_hook(check)
    try:
        yield
    finally:
        handle.remove()
