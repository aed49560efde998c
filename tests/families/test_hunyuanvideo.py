"""HunyuanVideo: the I2V frame drop, the transformers-5 tokenizer and the I2V cache context handled; snapping,
local and catalog cards. t2v, i2v and true CFG against the direct diffusers call: tests/test_matrix.py; the
rules: tests/checks/test_spec_errors.py."""

from __future__ import annotations

import contextlib
import json

import pytest
from helpers import direct_frames, image
from PIL import Image

import videogen
from videogen.families._common import load_llama_tokenizer
from videogen.families.hunyuanvideo import FAMILY, LATENT_CONCAT_DROPPED_FRAMES, TINY_I2V_CALL
from videogen.loading.pipelines import CACHE
from videogen.spec.videospec import VideoSpec
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"


def _cached_pipeline(model: str):
    """The pipeline videogen loaded for `model` (from its pipeline cache)."""
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


def test_the_i2v_pipeline_drops_four_frames() -> None:
    """HunyuanVideo-I2V-33ch drops 4 frames: asked for 9, the pipeline returns 5. videogen asks it for
    num_frames + 4 (documented) and returns the 9 asked for, equal to that direct call: tests/test_matrix.py."""
    dropped = direct_frames(
        "HunyuanVideoImageToVideoPipeline",
        tiny_folder("hunyuanvideo", "i2v"),
        seed=7,
        prompt=PROMPT,
        image=Image.fromarray(image()),
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=1.0,
        **TINY_I2V_CALL,
    )
    assert dropped.shape[0] == 5


def test_snap_rounds_frames_and_size() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        result = videogen.generate(
            model="tiny-hunyuanvideo-i2v",
            prompt=PROMPT,
            image=image(),
            num_frames=6,
            width=24,
            snap=True,
            seed=1,
            progress=False,
        )
    assert result.num_frames == result.spec.num_frames == 5
    assert result.width == 32
    assert result.metadata["snapped"]["num_frames"] == {"requested": 6, "used": 5, "rule": "num_frames must be 4k+1"}


def test_llama_tokenizer_keeps_its_byte_level_pre_tokenizer(tmp_path) -> None:
    """transformers 5 LlamaTokenizer swaps a ByteLevel tokenizer.json's pre-tokenizer for Metaspace
    (spaces vanish); videogen reads the tokenizer as its tokenizer.json says."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaTokenizerFast, PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(char, len(vocab))
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    folder = tmp_path / "tokenizer"
    PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>"
    ).save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "LlamaTokenizerFast"  # as HunyuanVideo's tokenizer says
    (folder / "tokenizer_config.json").write_text(json.dumps(config))

    text = "a white ferret"
    truth = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    llama = LlamaTokenizerFast.from_pretrained(tmp_path, subfolder="tokenizer")
    broken = llama(text, add_special_tokens=False)
    assert broken.input_ids != truth  # the breakage, still there in this transformers
    fixed = load_llama_tokenizer(tmp_path, "tokenizer")
    assert fixed(text, add_special_tokens=False).input_ids == truth
    assert fixed.padding_side == "right"


def test_loaded_pipelines_use_the_fast_tokenizer() -> None:
    videogen.generate(model="tiny-hunyuanvideo", prompt=PROMPT, seed=1, progress=False)
    tokenizer = _cached_pipeline("tiny-hunyuanvideo").tokenizer
    assert type(tokenizer).__name__ in ("PreTrainedTokenizerFast", "TokenizersBackend")
    assert tokenizer.padding_side == "right"


def test_i2v_cache_context_seam() -> None:
    """FirstBlockCache needs a cache context the I2V pipeline never sets; videogen sets one when it's on."""
    from diffusers import FirstBlockCacheConfig

    spec = VideoSpec(model="tiny-hunyuanvideo-i2v", task="i2v")
    fields = {"model": "tiny-hunyuanvideo-i2v", "prompt": PROMPT, "image": image(), "seed": 5, "progress": False}
    plain = videogen.generate(**fields)
    pipe = _cached_pipeline("tiny-hunyuanvideo-i2v")
    assert isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
    pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=0.05))
    try:
        assert not isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
        with pytest.raises(ValueError, match="cache context"):  # the pipeline alone
            pipe(
                prompt=PROMPT,
                image=Image.fromarray(image()),
                height=32,
                width=32,
                num_frames=13,
                num_inference_steps=2,
                output_type="np",
                **TINY_I2V_CALL,
            )
        cached = videogen.generate(**fields)
        assert cached.frames.shape == plain.frames.shape
    finally:
        pipe.transformer.disable_cache()
    # T2V sets its own contexts: no outer one
    assert isinstance(FAMILY.call_context(pipe, spec.replace(task="t2v")), contextlib.nullcontext)


def test_local_i2v_folder_is_recognised_with_its_frame_drop() -> None:
    folder = tiny_folder("hunyuanvideo", "i2v")
    card = videogen.resolve(str(folder))
    assert card.family == "hunyuanvideo" and card.traits["image_condition"] == "latent_concat"
    result = videogen.generate(
        model=str(folder),
        prompt=PROMPT,
        image=image(),
        num_frames=5,
        height=32,
        width=32,
        steps=1,
        extra=TINY_I2V_CALL,
        seed=2,
        progress=False,
    )
    # recognised as the 33-channel I2V from its folder, so the pipeline is asked for the frames it drops
    assert result.metadata["call"]["num_frames"] == 5 + LATENT_CONCAT_DROPPED_FRAMES
    assert result.num_frames == 5 and result.frames.shape[0] == 5


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("hunyuanvideo")}
    assert cards["hunyuanvideo"].repo == "hunyuanvideo-community/HunyuanVideo"
    assert (cards["hunyuanvideo"].height, cards["hunyuanvideo"].width, cards["hunyuanvideo"].num_frames) == (
        720,
        1280,
        129,
    )
    assert cards["hunyuanvideo"].guidance_scale == 6.0 and cards["hunyuanvideo"].steps == 50
    assert cards["hunyuanvideo-i2v"].repo == "hunyuanvideo-community/HunyuanVideo-I2V"
    assert cards["hunyuanvideo-i2v"].traits["image_condition"] == "token_replace"
    assert cards["hunyuanvideo-i2v-33ch"].traits["image_condition"] == "latent_concat"
    assert cards["hunyuanvideo-i2v-33ch"].guidance_scale == 1.0
    assert videogen.resolve("hunyuanvideo-community/HunyuanVideo-I2V").name == "hunyuanvideo-i2v"
    for card in cards.values():
        assert card.frame_rule == (4, 1) and card.size_multiple == 16
        assert card.tiny or card.dtypes == {"default": "float16", "transformer": "bfloat16"}
