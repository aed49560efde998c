"""The FLOPs the planner counts from a denoiser's config equal what torch's FlopCounterMode counts when the tiny
model of each family runs a forward (attention through the math kernel, which FlopCounterMode sees)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from videogen.families import all_families
from videogen.memory.activations import Shape
from videogen.memory.components import Component
from videogen.memory.flops import EXACT, FRAMEPACK_WINDOW, WAN_IMAGE_TOKENS, denoiser_flops, latent_size
from videogen.memory.flops_dit import HV15_BYT5_TOKENS, HV15_IMAGE_TOKENS
from videogen.memory.flops_dit_av import LTX2_FPS, ltx2_audio_tokens
from videogen.memory.flops_dit_ext import HELIOS_CHUNK, HELIOS_HISTORY

torch = pytest.importorskip("torch")

TEXT = 7  # prompt tokens fed to the denoiser (any length: the count takes it as an input)


def _tiny_cards() -> list[tuple[str, str]]:
    """(family, tiny variant) for the first tiny model of every family, plus the variants whose denoiser
    differs in what is counted (Wan's image tokens, CogVideoX 1.5's temporal patches, Kandinsky 5's image
    condition channels, EasyAnimate's inpaint latents)."""
    out = []
    for family in all_families():
        tiny = [c for c in family.cards if c.tiny]
        if tiny:
            out.append((family.name, tiny[0].tiny or ""))
    variants = [("wan", "i2v"), ("cogvideox", "1.5"), ("hunyuanvideo", "i2v"), ("skyreels_v2", "i2v")]
    return out + variants + [("kandinsky5", "i2v"), ("easyanimate", "inp")]


def _shape(family: str, variant: str) -> Shape:
    """The tiny card's own size, guidance batched."""
    card = next(c for f in all_families() if f.name == family for c in f.cards if c.tiny == variant)
    return Shape(card.height, card.width, card.num_frames or 1, batch_cfg=2)


def _denoiser(family: str, variant: str) -> tuple[Component, Component | None]:
    from videogen.families.tiny import tiny_folder

    folder = tiny_folder(family, variant)
    index = json.loads((folder / "model_index.json").read_text())
    name = next(n for n in ("transformer", "unet") if isinstance(index.get(n), list) and index[n][0])
    config = json.loads((folder / name / "config.json").read_text())
    if family == "framepack":  # its transformer lives beside the HunyuanVideo base, as on the Hub
        from videogen.families.framepack import TINY_TRANSFORMERS

        config = json.loads((folder / TINY_TRANSFORMERS["inverted_anti_drifting"] / "config.json").read_text())
        index[name] = ["diffusers", config["_class_name"]]
    vae_config = json.loads((folder / "vae" / "config.json").read_text()) if (folder / "vae").is_dir() else None
    vae = Component("vae", index["vae"][1], "diffusers", vae_config) if vae_config else None
    return Component(name, index[name][1], "diffusers", config), vae


def _inputs(cls: str, config: dict[str, Any], latents: tuple[int, int, int], batch: int) -> dict[str, Any]:
    frames, height, width = latents
    r = torch.randn
    t = torch.full((batch,), 500.0)
    if cls in ("WanTransformer3DModel", "SkyReelsV2Transformer3DModel", "WanVACETransformer3DModel"):
        kw = dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, TEXT, config["text_dim"]),
        )
        if config.get("inject_sample_info"):
            kw["fps"] = [1] * batch
        if config.get("vace_layers"):
            kw["control_hidden_states"] = r(batch, config["vace_in_channels"], frames, height, width)
        if config.get("image_dim"):
            kw["encoder_hidden_states_image"] = r(batch, config.get("pos_embed_seq_len") or 257, config["image_dim"])
        return kw
    if cls == "LTXVideoTransformer3DModel":
        return dict(
            hidden_states=r(batch, frames * height * width, config["in_channels"]),
            encoder_hidden_states=r(batch, TEXT, config["caption_channels"]),
            timestep=t,
            encoder_attention_mask=torch.ones(batch, TEXT),
            num_frames=frames,
            height=height,
            width=width,
        )
    if cls == "CogVideoXTransformer3DModel":  # the pipeline pads the frames to whole temporal patches
        pt = config.get("patch_size_t") or 1
        kw = dict(
            hidden_states=r(batch, -(-frames // pt) * pt, config["in_channels"], height, width),
            encoder_hidden_states=r(batch, config["max_text_seq_length"], config["text_embed_dim"]),
            timestep=t.long(),
        )
        if config.get("ofs_embed_dim"):
            kw["ofs"] = torch.full((batch,), 2.0)
        return kw
    if cls == "HunyuanVideoTransformer3DModel":
        kw = dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, TEXT, config["text_embed_dim"]),
            encoder_attention_mask=torch.ones(batch, TEXT),
            pooled_projections=r(batch, config["pooled_projection_dim"]),
        )
        if config.get("guidance_embeds"):
            kw["guidance"] = torch.full((batch,), 6000.0)
        return kw
    if cls == "WanAnimateTransformer3DModel":  # the reference frame first, the pose latents, the face frames
        faces = (frames - 1) * 4 + 1
        return dict(
            hidden_states=r(batch, config["in_channels"], frames + 1, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, 512, config["text_dim"]),
            encoder_hidden_states_image=r(batch, WAN_IMAGE_TOKENS, config["image_dim"]),
            pose_hidden_states=r(batch, config["latent_channels"], frames, height, width),
            face_pixel_values=r(batch, 3, faces, config["motion_encoder_size"], config["motion_encoder_size"]),
        )
    if cls == "CosmosTransformer3DModel":  # in_channels: the latents and any condition mask
        per_frame = config["extra_pos_embed_type"] is None  # Predict2/2.5's pipelines: a timestep per latent frame
        kw = dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=torch.full((batch, 1, frames, 1, 1), 0.5) if per_frame else t,
            encoder_hidden_states=r(batch, TEXT, config["text_embed_dim"]),
            fps=24,
        )
        if config["concat_padding_mask"]:
            kw["padding_mask"] = torch.zeros(1, 1, height * 8, width * 8)
        return kw
    if cls == "LatteTransformer3DModel":  # the pipeline passes no prompt mask (it cuts the padding off instead)
        return dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=t.long(),
            encoder_hidden_states=r(batch, TEXT, config["caption_channels"]),
        )
    if cls == "AllegroTransformer3DModel":
        return dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            encoder_hidden_states=r(batch, TEXT, config["caption_channels"]),
            timestep=t,
            encoder_attention_mask=torch.ones(batch, TEXT),
        )
    if cls in ("MochiTransformer3DModel", "SanaVideoTransformer3DModel"):
        emb = config["text_embed_dim"] if cls.startswith("Mochi") else config["caption_channels"]
        kw = dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            encoder_hidden_states=r(batch, TEXT, emb),
            timestep=t,
            encoder_attention_mask=torch.ones(batch, TEXT),
        )
        if config.get("guidance_embeds"):
            kw["guidance"] = torch.full((batch,), 6.0)
        return kw
    if cls == "EasyAnimateTransformer3DModel":  # the inpainting models' inpaint latents fill up in_channels
        kw = dict(hidden_states=r(batch, config["out_channels"], frames, height, width), timestep=t)
        kw["encoder_hidden_states"] = r(batch, TEXT, config["text_embed_dim"])
        if config["in_channels"] > config["out_channels"]:
            kw["inpaint_latents"] = r(batch, config["in_channels"] - config["out_channels"], frames, height, width)
        return kw
    if cls == "Kandinsky5Transformer3DModel":  # channels last; the image condition and its mask in the channels
        pt, ph, pw = config["patch_size"]
        channels = config["in_visual_dim"] * (2 if config["visual_cond"] else 1) + int(bool(config["visual_cond"]))
        return dict(
            hidden_states=r(batch, frames, height, width, channels),
            encoder_hidden_states=r(batch, TEXT, config["in_text_dim"]),
            timestep=t,
            pooled_projections=r(batch, config["in_text_dim2"]),
            visual_rope_pos=[torch.arange(frames // pt), torch.arange(height // ph), torch.arange(width // pw)],
            text_rope_pos=torch.arange(TEXT),
        )
    if cls == "HunyuanVideo15Transformer3DModel":  # the ByT5 prompt and the image tokens beside the prompt
        return dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, TEXT, config["text_embed_dim"]),
            encoder_attention_mask=torch.ones(batch, TEXT),
            encoder_hidden_states_2=r(batch, HV15_BYT5_TOKENS, config["text_embed_2_dim"]),
            encoder_attention_mask_2=torch.ones(batch, HV15_BYT5_TOKENS),
            image_embeds=r(batch, HV15_IMAGE_TOKENS, config["image_embed_dim"]),
        )
    if cls == "LTX2VideoTransformer3DModel":  # video and audio tokens, one prompt for each
        audio = ltx2_audio_tokens(config, frames)
        embedded = config["use_prompt_embeddings"]  # else the connectors' output goes in at the streams' widths
        return dict(
            hidden_states=r(batch, frames * height * width, config["in_channels"]),
            audio_hidden_states=r(batch, audio, config["audio_in_channels"]),
            encoder_hidden_states=r(batch, TEXT, config["caption_channels" if embedded else "cross_attention_dim"]),
            audio_encoder_hidden_states=r(
                batch, TEXT, config["caption_channels" if embedded else "audio_cross_attention_dim"]
            ),
            timestep=t,
            sigma=t,
            encoder_attention_mask=torch.ones(batch, TEXT),
            audio_encoder_attention_mask=torch.ones(batch, TEXT),
            num_frames=frames,
            height=height,
            width=width,
            fps=LTX2_FPS,
            audio_num_frames=audio,
        )
    if cls == "UNet3DConditionModel":
        return dict(
            sample=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, TEXT, config["cross_attention_dim"]),
        )
    if cls == "UNetMotionModel":  # the pipeline repeats the prompt for every frame
        return dict(
            sample=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch * frames, TEXT, config["cross_attention_dim"]),
        )
    if cls == "I2VGenXLUNet":
        return dict(
            sample=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            fps=torch.tensor([8.0] * batch),
            image_latents=r(batch, 4, frames, height, width),
            image_embeddings=r(batch, config["cross_attention_dim"]),
            encoder_hidden_states=r(batch, TEXT, config["cross_attention_dim"]),
        )
    if cls == "UNetSpatioTemporalConditionModel":
        return dict(
            sample=r(batch, frames, config["in_channels"], height, width),
            timestep=t,
            encoder_hidden_states=r(batch, 1, config["cross_attention_dim"]),
            added_time_ids=r(batch, 3),
        )
    if cls == "HeliosTransformer3DModel":  # one chunk and its long, mid and short (with the prefix) history
        long, mid, short = HELIOS_HISTORY
        kw = dict(
            hidden_states=r(batch, config["in_channels"], frames, height, width),
            timestep=t,
            encoder_hidden_states=r(batch, TEXT, config["text_dim"]),
        )
        start = 0
        for key, count in (("long", long), ("mid", mid), ("short", short + 1), ("", frames)):
            name = f"indices_latents_history_{key}" if key else "indices_hidden_states"
            kw[name] = torch.arange(start, start + count).unsqueeze(0)
            if key:
                kw[f"latents_history_{key}"] = r(batch, config["in_channels"], count, height, width)
            start += count
        return kw
    if cls == "HunyuanVideoFramepackTransformer3DModel":  # one section: its window and the clean history
        kw = _inputs("HunyuanVideoTransformer3DModel", config, latents, batch)
        kw["image_embeds"] = r(batch, 729, config["image_proj_dim"])
        kw["indices_latents"] = torch.arange(frames)
        for key, count in (("latents_clean", 2), ("latents_history_2x", 2), ("latents_history_4x", 16)):
            kw[key] = r(batch, config["in_channels"], count, height, width)
            kw["indices_" + key] = torch.arange(count)
        return kw
    raise KeyError(cls)


def _counted_and_measured(family: str, variant: str, changes: dict[str, Any] | None = None) -> tuple[Any, int]:
    """The planner's count for the tiny denoiser (its config with `changes`) and FlopCounterMode's total of
    one forward of it at the tiny card's size."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from videogen.memory.components import component_class

    den, vae = _denoiser(family, variant)
    config = {k: v for k, v in (den.config or {}).items() if not k.startswith("_")} | (changes or {})
    if family == "skyreels_v2" and variant == "i2v":  # the catalog's SkyReels-V2 embeds the fps: count it too
        config["inject_sample_info"] = True
    den = Component(den.name, den.class_name, den.library, config)
    shape = _shape(family, variant)
    model = component_class(den.class_name, "diffusers").from_config(config).eval()
    latents = latent_size(vae, shape)
    if den.class_name == "HunyuanVideoFramepackTransformer3DModel":  # a step denoises one section's window
        latents = (FRAMEPACK_WINDOW, latents[1], latents[2])
    if den.class_name == "HeliosTransformer3DModel":  # and Helios's one chunk
        latents = (HELIOS_CHUNK, latents[1], latents[2])
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**_inputs(den.class_name, dict(model.config), latents, shape.batch_cfg))
    text = config.get("max_text_seq_length") if den.class_name.startswith("CogVideoX") else TEXT
    if den.class_name == "WanAnimateTransformer3DModel":
        text = 512  # the prompt's padded length, which its cross-attention splits the image tokens off by
    if den.class_name == "UNetSpatioTemporalConditionModel":
        text = 1  # the image embedding
    return denoiser_flops(den, vae, shape, None, text=text), counter.get_total_flops()


@pytest.mark.parametrize(("family", "variant"), _tiny_cards())
def test_counted_flops_equal_flop_counter_mode(family: str, variant: str) -> None:
    den, vae = _denoiser(family, variant)
    if den.class_name not in EXACT:  # a family added without a count yet: a rough one, and said to be rough
        rough = denoiser_flops(den, vae, _shape(family, variant), linear_params=1)
        assert rough is not None and not rough.exact
        pytest.skip(f"{den.class_name}: no layer-by-layer count yet (rough)")
    count, measured = _counted_and_measured(family, variant)
    assert count is not None and count.exact
    assert count.flops == measured


@pytest.mark.parametrize(
    ("family", "changes"),
    [  # what the tiny configs leave out: LTX-2.3's gates, prompt modulation and connector-width prompts with
        # audio heads of another count; Mochi's prompt stream narrower than the video's; EasyAnimate's blocks
        # past `mmdit_layers` sharing the video's weights; SANA-Video's guidance embedding and cross heads;
        # Helios's cross-attention from every token and its history at the step's timestep; Latte's GEGLU
        (
            "ltx2",
            dict(gated_attn=True, audio_gated_attn=True, cross_attn_mod=True, audio_cross_attn_mod=True)
            | dict(perturbed_attn=True, use_prompt_embeddings=False, audio_num_attention_heads=4)
            | dict(audio_attention_head_dim=2),
        ),
        ("mochi", dict(pooled_projection_dim=24, num_layers=3, time_embed_dim=12)),
        ("easyanimate", dict(mmdit_layers=1, num_layers=3, time_embed_dim=12)),
        ("sana_video", dict(guidance_embeds=True, num_cross_attention_heads=3, cross_attention_head_dim=8)),
        ("helios", dict(guidance_cross_attn=False, zero_history_timestep=False)),
        ("latte", dict(activation_fn="geglu", norm_type="layer_norm", out_channels=4)),
    ],
    ids=["ltx2.3", "mochi", "easyanimate", "sana_video", "helios", "latte"],
)
def test_the_counts_follow_the_config_switches_the_tiny_models_leave_off(family: str, changes: dict) -> None:
    count, measured = _counted_and_measured(family, "t2v", changes)
    assert count is not None and count.exact
    assert count.flops == measured


def test_a_class_without_a_count_gets_a_rough_one_and_says_so() -> None:
    den = Component("transformer", "SomeVideoTransformer3DModel", "diffusers", {"num_layers": 2, "patch_size": 2})
    count = denoiser_flops(den, None, Shape(64, 64, 9, batch_cfg=2), linear_params=1000)
    assert count is not None and not count.exact and count.flops > 0


def test_the_unet3d_and_i2vgen_xl_counts_hold_for_deeper_configs_and_odd_sizes() -> None:
    """The tiny ModelScope UNet has two levels of one layer; the real ones have four of two: check the stride
    and skip arithmetic on a deeper config, at a size the downsamplers round up."""
    from diffusers import UNet3DConditionModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from videogen.memory.flops import unet3d

    config = dict(
        block_out_channels=[8, 16, 16],
        layers_per_block=2,
        down_block_types=["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
        up_block_types=["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
        attention_head_dim=4,
        cross_attention_dim=12,
        in_channels=4,
        out_channels=4,
        norm_num_groups=4,
    )
    model = UNet3DConditionModel(**config).eval()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(2, 4, 3, 10, 14), torch.tensor([500, 500]), encoder_hidden_states=torch.randn(2, 5, 12))
    assert unet3d(config, (3, 10, 14), 2, 5).flops == counter.get_total_flops()
    from diffusers import I2VGenXLUNet

    from videogen.memory.flops_unet import i2vgen_xl

    model = I2VGenXLUNet(**config).eval()  # the same layers, with its image inputs
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(
            torch.randn(2, 4, 3, 10, 14),
            torch.tensor([500, 500]),
            fps=torch.tensor([8.0, 8.0]),
            image_latents=torch.randn(2, 4, 3, 10, 14),
            image_embeddings=torch.randn(2, 12),
            encoder_hidden_states=torch.randn(2, 5, 12),
        )
    assert i2vgen_xl(config, (3, 10, 14), 2, 5).flops == counter.get_total_flops()


def test_the_svd_count_holds_for_deeper_configs_and_odd_sizes() -> None:
    from diffusers import UNetSpatioTemporalConditionModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from videogen.memory.flops_unet import svd

    config = dict(
        block_out_channels=[32, 64, 64],
        layers_per_block=2,
        down_block_types=[
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "DownBlockSpatioTemporal",
        ],
        up_block_types=["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"],
        num_attention_heads=[2, 4, 4],
        cross_attention_dim=24,
        in_channels=8,
        out_channels=4,
        addition_time_embed_dim=16,
        projection_class_embeddings_input_dim=48,
        transformer_layers_per_block=[1, 2, 1],
    )
    model = UNetSpatioTemporalConditionModel(**config).eval()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(
            torch.randn(2, 3, 8, 10, 14),
            torch.tensor([500.0, 500.0]),
            encoder_hidden_states=torch.randn(2, 1, 24),
            added_time_ids=torch.randn(2, 3),
        )
    assert svd(config, (3, 10, 14), 2, 1).flops == counter.get_total_flops()


def test_the_animatediff_count_holds_for_deeper_configs_and_odd_sizes() -> None:
    """The tiny AnimateDiff UNet has two levels of one layer, one head count and the motion mid block; check three
    levels of two layers, per-level heads, deeper motion modules and the plain mid block, at odd sizes."""
    from diffusers import UNetMotionModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from videogen.memory.flops_unet import animatediff

    config = dict(
        block_out_channels=[8, 16, 16],
        layers_per_block=2,
        down_block_types=["CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion", "DownBlockMotion"],
        up_block_types=["UpBlockMotion", "CrossAttnUpBlockMotion", "CrossAttnUpBlockMotion"],
        num_attention_heads=[2, 4, 4],
        motion_num_attention_heads=2,
        temporal_transformer_layers_per_block=2,
        use_motion_mid_block=False,
        cross_attention_dim=12,
        in_channels=4,
        out_channels=4,
        norm_num_groups=4,
    )
    model = UNetMotionModel(**config).eval()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(2, 4, 3, 10, 14), torch.tensor([500, 500]), encoder_hidden_states=torch.randn(6, 5, 12))
    assert animatediff(config, (3, 10, 14), 2, 5).flops == counter.get_total_flops()


@pytest.mark.parametrize(
    "changes",
    [
        dict(extra_pos_embed_type="learnable"),
        dict(extra_pos_embed_type=None, use_crossattn_projection=True, crossattn_proj_in_channels=40)
        | dict(encoder_hidden_states_channels=16),
        dict(extra_pos_embed_type=None, img_context_dim_in=20, img_context_num_tokens=5, img_context_dim_out=24),
    ],
    ids=["cosmos1", "predict2-projected-prompt", "predict2.5-image-context"],
)
def test_the_cosmos_count_holds_for_its_versions(changes: dict) -> None:
    """Cosmos 1.0 (a timestep per sample), Predict2/2.5 (one per latent frame: modulations per token), the
    projected prompt and the image context, on a small config (the padding mask's resize needs torchvision)."""
    from diffusers import CosmosTransformer3DModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from videogen.memory.flops_dit_ext import cosmos

    config = dict(in_channels=4, num_attention_heads=2, attention_head_dim=12, num_layers=2, mlp_ratio=2.0)
    config |= dict(text_embed_dim=16, adaln_lora_dim=4, max_size=(4, 32, 32), concat_padding_mask=False) | changes
    model = CosmosTransformer3DModel(**config).eval()
    per_frame = config["extra_pos_embed_type"] is None
    prompt = torch.randn(2, 7, config.get("crossattn_proj_in_channels", 16))
    context = (prompt, torch.randn(2, 5, 20)) if config.get("img_context_dim_in") else prompt
    timestep = torch.full((2, 1, 3, 1, 1), 0.5) if per_frame else torch.tensor([0.5, 0.5])
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(2, 4, 3, 6, 10), timestep, encoder_hidden_states=context, fps=24)
    assert cosmos(config, (3, 6, 10), 2, 7).flops == counter.get_total_flops()
