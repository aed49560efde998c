"""Messages that optional libraries log about themselves while diffusers and transformers import them and
that say nothing about the user's run, dropped by a logging filter on their loggers:

- torchao's "Failed to load .../torchao/_C_....so": its prebuilt kernels for other GPUs and torch builds;
- torch's notice that torchao registers Enum classes with pytree the deprecated way;
- diffusers' "Unable to import `torchao` Tensor objects": only checkpoints serialized with torchao need them
  (videogen quantizes at load from the checkpoint's own weights).

`install()` runs once when videogen is imported; it imports no library. Every other message of those loggers
passes, and the `videogen` command's own `--verbose` still shows everything else they say.
"""

from __future__ import annotations

import logging

#: logger name -> the messages dropped there, each as the parts it contains
DROPPED: dict[str, tuple[tuple[str, ...], ...]] = {
    "torchao": (("Failed to load ", "torchao"),),
    "torch.utils._pytree": (("is an Enum subclass", "register_constant()"),),
    "diffusers.quantizers.torchao.torchao_quantizer": (("Unable to import `torchao` Tensor objects",),),
}


class _Drop(logging.Filter):
    def __init__(self, patterns: tuple[tuple[str, ...], ...]) -> None:
        super().__init__()
        self.patterns = patterns

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(all(part in message for part in parts) for parts in self.patterns)


def install() -> None:
    """Add the filters (once)."""
    for name, patterns in DROPPED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) for f in logger.filters):
            logger.addFilter(_Drop(patterns))
