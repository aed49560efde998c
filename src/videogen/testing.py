"""`videogen.testing`: the tiny random-weight models under the name tests and users' CI import them by.

A thin re-export of `videogen.families.tiny` (where they are built, cached and found); new code may import either.
"""

from __future__ import annotations

from .families.tiny import cache_root, sample_image, tiny_card, tiny_card_name, tiny_folder, tiny_lora, tiny_pipeline

__all__ = ["cache_root", "sample_image", "tiny_card", "tiny_card_name", "tiny_folder", "tiny_lora", "tiny_pipeline"]
