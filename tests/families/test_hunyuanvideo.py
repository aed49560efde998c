"""HunyuanVideo: t2v and i2v end to end on tiny models, equal to the direct diffusers call; the rules;
the I2V frame drop, the transformers-5 tokenizer and the I2V cache context handled."""

from __future__ import annotations

import contextlib
import json

import pytest
from helpers import assert_frames_close, direct_frames, image
from PIL import Image

import videogen
from videogen.families.hunyuanvideo import FAMILY, TINY_I2V_CALL, TINY_T2V_CALL, load_llama_tokenizer
from videogen.pipeline import CACHE
from videogen.spec import VideoSpec
from videogen.testing import tiny_folder

PROMPT = "a white ferret leaps into a stream"


def _cached_pipeline(model: str):
    """The pipeline videogen loaded for `model` (from its pipeline cache)."""
    keys = [k for k in CACHE.keys() if k[0] == model]  # noqa: SIM118 (no __iter__)
    assert keys, f"{model} is not loaded"
    return CACHE.get(keys[-1], lambda: None).base


def test_t2v_matches_direct_diffusers_call() -> None:
    result = videogen.generate(model="tiny-hunyuanvideo", prompt=PROMPT, seed=7, progress=False)
    assert result.metadata["model"]["pipeline"] == "HunyuanVideoPipeline"
    assert result.frames.shape == (9, 32, 32, 3)
    expected = direct_frames("HunyuanVideoPipeline", tiny_folder("hunyuanvideo", "t2v"), seed=7,
                             prompt=PROMPT, height=32, width=32, num_frames=9, num_inference_steps=2,
                             guidance_scale=6.0, **TINY_T2V_CALL)
    assert_frames_close(result.frames, expected)


def test_i2v_matches_direct_call_and_returns_the_frames_asked_for() -> None:
    """HunyuanVideo-I2V-33ch drops 4 frames: videogen asks the pipeline for num_frames + 4 (documented)."""
    result = videogen.generate(model="tiny-hunyuanvideo-i2v", prompt=PROMPT, image=image(), seed=7,
                               progress=False)
    assert result.metadata["model"]["pipeline"] == "HunyuanVideoImageToVideoPipeline"
    assert result.num_frames == result.spec.num_frames == 9
    assert result.frames.shape == (9, 32, 32, 3)
    kwargs = {"prompt": PROMPT, "image": Image.fromarray(image()), "height": 32, "width": 32,
              "num_inference_steps": 2,
                  "guidance_scale": 1.0, **TINY_I2V_CALL}
    folder = tiny_folder("hunyuanvideo", "i2v")
    assert_frames_close(result.frames, direct_frames("HunyuanVideoImageToVideoPipeline", folder, seed=7,
                                                     num_frames=9 + 4, **kwargs))
    # the breakage itself: asked for 9, the pipeline returns 5
    dropped = direct_frames("HunyuanVideoImageToVideoPipeline", folder, seed=7, num_frames=9, **kwargs)
    assert dropped.shape[0] == 5


def test_true_cfg_with_negative_prompt_matches_direct_call() -> None:
    result = videogen.generate(model="tiny-hunyuanvideo", prompt=PROMPT, negative_prompt="blurry", seed=3,
                               extra={"true_cfg_scale": 3.0}, progress=False)
    expected = direct_frames("HunyuanVideoPipeline", tiny_folder("hunyuanvideo", "t2v"), seed=3,
                             prompt=PROMPT, negative_prompt="blurry", true_cfg_scale=3.0, height=32, width=32,
                             num_frames=9, num_inference_steps=2, guidance_scale=6.0, **TINY_T2V_CALL)
    assert_frames_close(result.frames, expected)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
        ({"height": 40}, "height", ["multiple of 16", "height=48"]),
        ({"width": 20}, "width", ["multiple of 16", "width=16"]),
        ({"model": "tiny-hunyuanvideo-i2v"}, "image", ["image-to-video", "image="]),
        ({"image": image()}, "task", ["i2v", "tiny-hunyuanvideo-i2v"]),
        ({"negative_prompt": "blurry"}, "negative_prompt", ["true_cfg_scale", "guidance-distilled"]),
        ({"model": "tiny-hunyuanvideo-i2v", "image": image(), "negative_prompt": "blurry"}, "negative_prompt",
         ["true_cfg_scale"]),
        ({"extra": {"true_cfg_scale": 4.0}}, "negative_prompt", ["negative_prompt=''", "true_cfg_scale"]),
        ({"extra": {"true_cfg_scale": "high"}}, "extra", ["true_cfg_scale", "number"]),
        ({"extra": {"true_cfg": 4.0}}, "extra", ["true_cfg", "not a parameter"]),
        ({"extra": {"num_frames": 13}}, "extra", ["num_frames", "spec field"]),
    ],
)
def test_hunyuanvideo_rules_raise_spec_error(fields: dict, field: str, words: list[str]) -> None:
    spec = {"model": "tiny-hunyuanvideo", "prompt": PROMPT, **fields}
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(progress=False, **spec)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_snap_rounds_frames_and_size() -> None:
    with pytest.warns(videogen.SnapWarning, match="num_frames"):
        result = videogen.generate(model="tiny-hunyuanvideo-i2v", prompt=PROMPT, image=image(), num_frames=6,
                                   width=24, snap=True, seed=1, progress=False)
    assert result.num_frames == result.spec.num_frames == 5
    assert result.width == 32
    assert result.metadata["snapped"]["num_frames"] == {"requested": 6, "used": 5,
                                                        "rule": "num_frames must be 4k+1"}


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
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                            pad_token="</s>").save_pretrained(folder)
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
    fields = {"model": "tiny-hunyuanvideo-i2v", "prompt": PROMPT, "image": image(), "seed": 5,
              "progress": False}
    plain = videogen.generate(**fields)
    pipe = _cached_pipeline("tiny-hunyuanvideo-i2v")
    assert isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
    pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=0.05))
    try:
        assert not isinstance(FAMILY.call_context(pipe, spec), contextlib.nullcontext)
        with pytest.raises(ValueError, match="cache context"):  # the pipeline alone
            pipe(prompt=PROMPT, image=Image.fromarray(image()), height=32, width=32, num_frames=13,
                 num_inference_steps=2, output_type="np", **TINY_I2V_CALL)
        cached = videogen.generate(**fields)
        assert cached.frames.shape == plain.frames.shape
    finally:
        pipe.transformer.disable_cache()
    # T2V sets its own contexts: no outer one
    assert isinstance(FAMILY.call_context(pipe, spec.replace(task="t2v")), contextlib.nullcontext)


def test_local_i2v_folder_is_recognised_with_its_frame_drop() -> None:
    folder = tiny_folder("hunyuanvideo", "i2v")
    card = videogen.resolve(str(folder))
    assert card.family == "hunyuanvideo" and card.image_condition == "latent_concat"
    result = videogen.generate(model=str(folder), prompt=PROMPT, image=image(), num_frames=5, height=32,
                               width=32, steps=1, extra=TINY_I2V_CALL, seed=2, progress=False)
    assert result.num_frames == 5


def test_catalog_cards() -> None:
    cards = {c.name: c for c in videogen.list_models("hunyuanvideo")}
    assert cards["hunyuanvideo"].repo == "hunyuanvideo-community/HunyuanVideo"
    assert (cards["hunyuanvideo"].height, cards["hunyuanvideo"].width, cards["hunyuanvideo"].num_frames) == (
        720, 1280, 129)
    assert cards["hunyuanvideo"].guidance_scale == 6.0 and cards["hunyuanvideo"].steps == 50
    assert cards["hunyuanvideo-i2v"].repo == "hunyuanvideo-community/HunyuanVideo-I2V"
    assert cards["hunyuanvideo-i2v"].image_condition == "token_replace"
    assert cards["hunyuanvideo-i2v-33ch"].image_condition == "latent_concat"
    assert cards["hunyuanvideo-i2v-33ch"].guidance_scale == 1.0
    assert videogen.resolve("hunyuanvideo-community/HunyuanVideo-I2V").name == "hunyuanvideo-i2v"
    for card in cards.values():
        assert card.frame_rule == (4, 1) and card.size_multiple == 16
        assert card.tiny or card.dtypes == {"default": "float16", "transformer": "bfloat16"}
