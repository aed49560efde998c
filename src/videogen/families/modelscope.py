"""ModelScope text-to-video (damo-vilab) and Zeroscope: `TextToVideoSDPipeline` and `VideoToVideoSDPipeline`.

Rules: height and width multiples of 8 (the SD VAE, ×8); any frame count. Video-to-video takes its
size and frame count from the input video (the pipeline has no height/width parameters and does not
resize): the video's sides must be multiples of 8 (snap=True resizes the frames), and an explicit
height/width other than the video's is refused (snap=True uses the video's). `strength` (extra,
default 0.6 as in the pipeline) denoises `int(steps * strength)` steps, which must be at least 1.
Guidance comes from the card (9.0 for the text-to-video checkpoints, in both tasks; 15.0, the
VideoToVideoSDPipeline default, for the zeroscope-v2-xl upscaler).

`clip_skip` is passed as None unless the user sets it in `extra`; the pipelines' clip_skip code reads
`text_encoder.text_model`, which transformers >= 5.6 removed, so when it is set the call runs with a
temporary alias (`clip_skip_alias`), which makes the pipelines' own clip_skip code work again.
The old `callback`/`callback_steps` API is driven by generation.py. `spec.fps` is playback only.

`clip_skip_alias` and `check_clip_skip` are shared with the I2VGen-XL family (`families/_common.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import (
    UNET_CACHE_AUTO,
    UNET_CACHE_METHODS,
    check_clip_skip,
    check_clip_skip_depth,
    clip_skip_alias,
    unet_card,
)
from .base import NO_MEDIA, Checked, Family
from .card import ModelCard, nearest_multiple

if TYPE_CHECKING:
    from ..spec.videospec import CompleteSpec
    from .base import Rules

FP16 = {"default": "float16"}
V2V_STRENGTH = 0.6  # VideoToVideoSDPipeline's default


class ModelScopeFamily(Family):
    name = "modelscope"
    # step cache (VideoSpec.cache): DeepCache on the UNet (videogen.speed.deepcache; defaults and their source in
    # families/_common.py); the DiT cache hooks don't apply to a UNet
    cache_methods = UNET_CACHE_METHODS
    cache_auto = UNET_CACHE_AUTO
    pipelines = MappingProxyType({"t2v": "TextToVideoSDPipeline", "v2v": "VideoToVideoSDPipeline"})
    card_defaults = {
        "height": 256,
        "width": 256,
        "num_frames": 16,
        "fps": 8,
        "steps": 50,
        "guidance_scale": 9.0,
        "frame_rule": None,
        "size_multiple": 8,
        "dtypes": FP16,
    }
    tiny_defaults = {"height": 32, "width": 32, "num_frames": 8, "steps": 2}
    #: what damo-vilab/text-to-video-ms-1.7b ships (the tiny builder writes the same)
    scheduler = {"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "clip_sample": False}
    v2v_strength = V2V_STRENGTH  # the base total_steps counts int(steps * strength) steps

    def check_components(self, spec: CompleteSpec, card: ModelCard, configs: Mapping[str, Mapping[str, Any]]) -> None:
        """clip_skip below the CLIP text encoder's depth, from its config (before load)."""
        check_clip_skip_depth(spec.extra.get("clip_skip"), configs.get("text_encoder", {}).get("num_hidden_layers"))

    def check(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any] = NO_MEDIA) -> Checked:
        spec, media = super().check(spec, card, rules, media)  # the rules every family shares
        check_clip_skip(spec.extra.get("clip_skip"))
        if spec.task != "v2v":
            return Checked(spec, media)
        strength = spec.extra.get("strength", self.v2v_strength)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
            raise SpecError(
                f"extra['strength']={strength!r} must be a number in (0, 1]: how much of the video is "
                f"re-noised (e.g. extra={{'strength': {V2V_STRENGTH}}})",
                field="extra",
                valid=V2V_STRENGTH,
            )
        steps = spec.steps
        if int(steps * strength) < 1:
            needed = math.ceil(1 / strength)
            while int(needed * strength) < 1:  # float rounding
                needed += 1
            spec = spec.replace(
                steps=rules.fix(
                    "steps",
                    steps,
                    needed,
                    f"video-to-video runs int(steps * strength) denoising steps and strength is {strength}, "
                    f"so steps must be at least {needed}",
                )
            )
        return self._size_from_video(spec, card, rules, media)

    def _size_from_video(self, spec: CompleteSpec, card: ModelCard, rules: Rules, media: Mapping[str, Any]) -> Checked:
        """height/width := the video's (which must be multiples of 8; snap resizes the frames)."""
        video = media.get("video")
        if not video:
            return Checked(spec, media)
        sizes = {frame.size for frame in video}
        if len(sizes) > 1:
            shown = ", ".join(f"{h}x{w}" for w, h in sorted(sizes))
            rules.refuse("video", f"its frames differ in size ({shown}); give frames of one size")
        w, h = video[0].size
        m = card.size_multiple
        valid = (nearest_multiple(h, m), nearest_multiple(w, m))
        if (h, w) != valid:
            rules.fix(
                "video",
                f"{h}x{w}",
                f"{valid[0]}x{valid[1]}",
                f"the video's height and width must be multiples of {m} (the pipeline does not "
                f"resize it); resize the video to {valid[0]}x{valid[1]}",
            )
            from PIL import Image

            video = [frame.resize((valid[1], valid[0]), Image.Resampling.BICUBIC) for frame in video]
            media = {**media, "video": video}
            h, w = valid
        rule = (
            f"video-to-video takes its size from the input video ({h}x{w}); resize the video to change "
            "it, or leave height and width out"
        )
        height = rules.fix("height", spec.height, h, rule) if "height" in rules.given else h
        width = rules.fix("width", spec.width, w, rule) if "width" in rules.given else w
        return Checked(spec.replace(height=height, width=width), media)

    def call_kwargs(
        self, spec: CompleteSpec, card: ModelCard, media: Mapping[str, Any], params: AbstractSet[str]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(spec, card, media, params)
        kwargs.setdefault("clip_skip", None)
        return kwargs

    def call_context(self, pipe: Any, spec: CompleteSpec) -> AbstractContextManager[Any]:
        return clip_skip_alias(pipe, spec.extra.get("clip_skip"))

    def card_for_pipeline(
        self, ref: str, class_name: str, index: Mapping[str, Any], read_config: Callable[[str], dict]
    ) -> ModelCard:
        """A ModelScope-architecture checkpoint outside the catalog: the catalog card's size when the UNet is
        its architecture, else the UNet's sample_size × the VAE's scale, else none (`size_unknown`)."""
        template = self.card_named("text-to-video-ms-1.7b")
        tasks = template.tasks if class_name == "TextToVideoSDPipeline" else ("v2v", "t2v")
        return unet_card(self, template, ref, class_name, index, read_config, tasks=tasks, revision=None)

    def build_tiny(self, variant: str, folder: Path) -> None:
        """The tiny `TextToVideoSDPipeline` ("t2v"; VideoToVideoSDPipeline loads the same components)."""
        if variant != "t2v":
            raise ValueError(f"unknown tiny modelscope variant {variant!r}")
        from diffusers import TextToVideoSDPipeline, UNet3DConditionModel
        from transformers import CLIPTextModel

        from . import tiny_parts

        unet = UNet3DConditionModel(
            block_out_channels=(8, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
            up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=4,
            attention_head_dim=4,
            norm_num_groups=2,
        )
        text_encoder = CLIPTextModel(tiny_parts.clip_text_config(hidden=4, num_attention_heads=2)).eval()
        TextToVideoSDPipeline(
            vae=tiny_parts.sd_vae(),
            text_encoder=text_encoder,
            tokenizer=tiny_parts.clip_tokenizer(),
            unet=unet,
            scheduler=tiny_parts.ddim_scheduler(),
        ).save_pretrained(folder)


card = ModelScopeFamily.card
CARDS = (
    card(
        "text-to-video-ms-1.7b",
        "damo-vilab/text-to-video-ms-1.7b",
        ("t2v", "v2v"),
        variant="fp16",
        arch="ms-1.7b",
        description="ModelScope text-to-video 1.7B (damo-vilab); 256x256, 16 frames at 8 fps",
    ),
    # The Zeroscope repos hold .bin weights on main; the Hub's safetensors conversions are in these refs.
    card(
        "zeroscope-v2-576w",
        "cerspense/zeroscope_v2_576w",
        ("t2v", "v2v"),
        height=320,
        width=576,
        num_frames=24,
        revision="refs/pr/46",
        arch="ms-1.7b",
        description="Zeroscope v2 576w (ModelScope fine-tune, watermark-free); 320x576, 24 frames",
    ),
    card(
        "zeroscope-v2-xl",
        "cerspense/zeroscope_v2_XL",
        ("v2v",),
        height=576,
        width=1024,
        num_frames=24,
        guidance_scale=15.0,
        revision="refs/pr/34",
        arch="ms-1.7b",
        description="Zeroscope v2 XL: video-to-video upscaler of 576w clips resized to 1024x576 (strength 0.6)",
    ),
    # tiny random-weight model, built offline (videogen.families.tiny)
    card("tiny-modelscope", None, ("t2v", "v2v"), tiny="t2v", description="tiny random ModelScope text/video-to-video"),
)
FAMILY = ModelScopeFamily(CARDS)
