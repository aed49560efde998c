"""Every family's rules: a bad spec is a SpecError naming its field, with what to do in the message, raised
before any weights load (a fresh pipeline cache stays empty: no load, not even one a cached model would hide).

One table: (spec fields, the SpecError's `.field`, fragments its message must contain). Each group starts
from a spec its family accepts (tiny model, prompt, image where the model needs one); a case's fields replace
the group's (`"image": None` leaves the image out).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import image, video
from PIL import Image

import videogen
import videogen.loading.pipelines

PROMPT = "a white ferret leaps into a stream"
COND = {"task": "conditioned"}

#: group → (the spec its cases start from, [(fields, field, message fragments)])
CASES: dict[str, tuple[dict[str, Any], list[tuple]]] = {
    "wan": (
        {"model": "tiny-wan", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"width": 20}, "width", ["multiple of 16", "width=16"]),
            ({"model": "tiny-wan2.2-ti2v", "height": 48}, "height", ["multiple of 32", "height=64"]),
            ({"model": "tiny-wan-i2v"}, "image", ["image-to-video", "image="]),
            ({"model": "tiny-wan-flf2v", "task": "flf2v", "image": image()}, "last_image", ["last_image"]),
            ({"task": "v2v"}, "video", ["video"]),
            ({"extra": {"strenght": 0.5}}, "extra", ["strenght", "not a parameter"]),
            ({"extra": {"height": 64}}, "extra", ["height", "spec field"]),
            ({"image": image()}, "task", ["i2v", "tiny-wan-i2v"]),
            ({"model": "tiny-wan2.2", "video": video()}, "task", ["video-to-video", "tiny-wan"]),
        ],
    ),
    "ltx": (
        {"model": "tiny-ltx", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["8k+1", "num_frames=9"]),
            ({"num_frames": 12}, "num_frames", ["8k+1", "num_frames=9"]),
            ({"height": 40}, "height", ["multiple of 32", "height=32"]),
            ({"width": 50}, "width", ["multiple of 32", "width=64"]),
            ({"task": "i2v"}, "image", ["image"]),
            ({"extra": {"frame_rate": 24}}, "extra", ["frame_rate", "fps=24"]),
            ({"extra": {"frame_index": 3}}, "extra", ["frame_index", "task='conditioned'"]),
            ({"image": image(), "extra": {"strength": 0.5}}, "extra", ["strength", "task='conditioned'"]),
            ({**COND, "image": image(), "extra": {"timesteps": "fast"}}, "extra", ["list of numbers"]),
            ({**COND}, "image", ["at least one condition", "image="]),
            ({**COND, "prompt": None, "image": image()}, "prompt", ["prompt", "conditioned"]),
            (
                {**COND, "image": image(), "extra": {"frame_index": 9}},
                "extra",
                ["extra['frame_index']=9", "[0, 9)", "extra['frame_index']=8"],
            ),
            ({**COND, "image": image(), "extra": {"frame_index": -2}}, "extra", ["[0, 9)", "extra['frame_index']=0"]),
            ({**COND, "image": image(), "extra": {"frame_index": 2.5}}, "extra", ["whole frame number"]),
            (
                {**COND, "image": image(), "extra": {"strength": 1.5}},
                "extra",
                ["strength must be in [0, 1]", "extra['strength']=1.0"],
            ),
            ({**COND, "video": video(9), "extra": {"strength": "high"}}, "extra", ["strength", "number in [0, 1]"]),
            (
                {**COND, "image": image(), "video": video(9), "extra": {"frame_index": 0}},
                "extra",
                ["ambiguous", "extra['conditions']"],
            ),
            ({**COND, "extra": {"conditions": []}}, "extra", ["non-empty list"]),
            (
                {**COND, "extra": {"conditions": [{"image": image(), "video": video(9)}]}},
                "extra",
                ["extra['conditions'][0]", "exactly one of 'image' or 'video'"],
            ),
            ({**COND, "extra": {"conditions": [{"frame_index": 0}]}}, "extra", ["exactly one", "neither"]),
            (
                {**COND, "extra": {"conditions": [{"image": image()}, {"image": image(), "frame_index": 30}]}},
                "extra",
                ["extra['conditions'][1]['frame_index']=30", "extra['conditions'][1]['frame_index']=8"],
            ),
            ({**COND, "extra": {"conditions": [{"image": image(), "index": 3}]}}, "extra", ["unknown key 'index'"]),
            ({**COND, "extra": {"conditions": ["a.png"]}}, "extra", ["must be a dict"]),
            (
                {**COND, "image": image(), "extra": {"conditions": [{"image": image()}]}},
                "image",
                ["extra['conditions']", "leave image out"],
            ),
            (
                {**COND, "extra": {"conditions": [{"image": image()}], "strength": 0.5}},
                "extra",
                ["give strength in each entry"],
            ),
            (
                {**COND, "extra": {"conditions": [{"image": "/no/such/file.png"}]}},
                "extra",
                ["extra['conditions'][0]['image']", "no file"],
            ),
            ({"model": "ltx-video", **COND, "image": image()}, "task", ["conditioned", "ltx-video-0.9.5"]),
        ],
    ),
    "framepack": (
        {"model": "tiny-framepack", "prompt": PROMPT, "image": image()},
        [
            ({"image": None}, "image", ["image-to-video", "image="]),
            ({"model": "tiny-framepack-f1", "last_image": image(seed=1)}, "task", ["flf2v", "tiny-framepack"]),
            ({"extra": {"sampling_type": "vanilla"}}, "extra", ["inverted_anti_drifting", "tiny-framepack-f1"]),
            (
                {"model": "tiny-framepack-f1", "extra": {"sampling_type": "inverted_anti_drifting"}},
                "extra",
                ["vanilla", "model='tiny-framepack'"],
            ),
            ({"extra": {"sampling_type": "forward"}}, "extra", ["sampling type", "vanilla"]),
            ({"last_image": image(seed=1), "num_frames": 20}, "num_frames", ["12k+1", "num_frames=25", "last_image"]),
            ({"extra": {"latent_window_size": 0}}, "extra", ["latent_window_size", "at least 2"]),
            ({"negative_prompt": "blurry"}, "negative_prompt", ["true_cfg_scale"]),
            ({"extra": {"true_cfg_scale": 2.0}}, "negative_prompt", ["negative_prompt=''"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
        ],
    ),
    "cogvideox": (
        {"model": "tiny-cogvideox", "prompt": PROMPT},
        [
            ({"num_frames": 13}, "num_frames", ["8k+1", "num_frames=17"]),
            ({"num_frames": 25}, "num_frames", ["at most 17", "num_frames=17"]),
            ({"height": 32}, "height", ["only runs at 16x16", "height=16"]),
            ({"width": 24}, "width", ["only runs at 16x16", "width=16"]),
            (
                {"extra": {"max_sequence_length": 226}},
                "extra",
                ["extra['max_sequence_length']=226", "max_text_seq_length=16", "extra['max_sequence_length']=16"],
            ),
            ({"task": "v2v"}, "video", ["video"]),
            ({"video": video(9, 16, 16), "num_frames": 17}, "num_frames", ["9 frames", "num_frames=9"]),
            ({"model": "tiny-cogvideox-i2v"}, "image", ["image-to-video", "image="]),
            ({"model": "tiny-cogvideox1.5", "num_frames": 9}, "num_frames", ["16k+1", "num_frames=17"]),
            ({"model": "tiny-cogvideox1.5", "video": video(17, 16, 16)}, "task", ["video-to-video", "tiny-cogvideox"]),
            ({"extra": {"max_seq_length": 16}}, "extra", ["max_seq_length", "max_sequence_length"]),
            # the real checkpoints, validated without loading anything
            ({"model": "cogvideox-5b", "num_frames": 57}, "num_frames", ["at most 49", "num_frames=49"]),
            ({"model": "cogvideox-2b", "height": 720, "width": 480}, "height", ["480x720", "height=480"]),
            (
                {"model": "cogvideox-5b-i2v", "image": image(), "height": 768, "width": 1360},
                "height",
                ["480x720", "height=480"],
            ),
            ({"model": "cogvideox-5b", "extra": {"max_sequence_length": 512}}, "extra", ["226", "fixed"]),
            ({"model": "cogvideox1.5-5b", "num_frames": 80}, "num_frames", ["16k+1", "num_frames=81"]),
            ({"model": "cogvideox1.5-5b", "num_frames": 200}, "num_frames", ["at most 161", "num_frames=161"]),
            ({"model": "cogvideox1.5-5b", "height": 480, "width": 720}, "height", ["768x1360", "height=768"]),
            (
                {"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 720, "width": 1280},
                "height",
                ["shorter side must be 768", "height=768"],
            ),
            (
                {"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 768, "width": 1440},
                "width",
                ["longer side 768 to 1360", "width=1360"],
            ),
            (
                {"model": "cogvideox1.5-5b-i2v", "image": image(), "height": 770},
                "height",
                ["multiple of 16", "height=768"],
            ),
            ({"model": "cogvideox1.5-5b", "video": video()}, "task", ["video-to-video"]),
        ],
    ),
    "hunyuanvideo": (
        {"model": "tiny-hunyuanvideo", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"width": 20}, "width", ["multiple of 16", "width=16"]),
            ({"model": "tiny-hunyuanvideo-i2v"}, "image", ["image-to-video", "image="]),
            ({"image": image()}, "task", ["i2v", "tiny-hunyuanvideo-i2v"]),
            ({"negative_prompt": "blurry"}, "negative_prompt", ["true_cfg_scale", "guidance-distilled"]),
            (
                {"model": "tiny-hunyuanvideo-i2v", "image": image(), "negative_prompt": "blurry"},
                "negative_prompt",
                ["true_cfg_scale"],
            ),
            ({"extra": {"true_cfg_scale": 4.0}}, "negative_prompt", ["negative_prompt=''", "true_cfg_scale"]),
            ({"extra": {"true_cfg_scale": "high"}}, "extra", ["true_cfg_scale", "number"]),
            ({"extra": {"true_cfg": 4.0}}, "extra", ["true_cfg", "not a parameter"]),
            ({"extra": {"num_frames": 13}}, "extra", ["num_frames", "spec field"]),
        ],
    ),
    "i2vgen_xl": (
        {"model": "tiny-i2vgen-xl", "prompt": PROMPT, "image": image()},
        [
            ({"image": None}, "image", ["image-to-video", "image="]),
            ({"prompt": None}, "prompt", ["prompt is required"]),
            ({"height": 36}, "height", ["multiple of 8", "height=40"]),
            ({"width": 44}, "width", ["multiple of 8", "width=48"]),
            ({"extra": {"target_fps": 0}}, "extra", ["target_fps", "at least 1"]),
            ({"extra": {"decode_chunk_size": 0}}, "extra", ["decode_chunk_size", "at least 1"]),
            ({"extra": {"guidance_scale": 3.0}}, "extra", ["guidance_scale", "spec field"]),
            ({"extra": {"target_fsp": 3}}, "extra", ["target_fsp", "target_fps"]),
            ({"video": [image()]}, "task", ["v2v"]),
            ({"extra": {"clip_skip": -1}}, "extra", ["clip_skip", "at least 0"]),
            ({"extra": {"clip_skip": 1.5}}, "extra", ["clip_skip", "whole number"]),
            ({"extra": {"clip_skip": 2}}, "extra", ["clip_skip", "below 2"]),
        ],
    ),
    "modelscope": (
        {"model": "tiny-modelscope", "prompt": PROMPT},
        [
            ({"height": 36}, "height", ["multiple of 8", "height=40"]),
            ({"width": 20}, "width", ["multiple of 8", "width=24"]),
            ({"prompt": None}, "prompt", ["prompt is required"]),
            ({"image": image()}, "task", ["i2v", "t2v, v2v"]),
            (
                {"video": video(3), "height": 48},
                "height",
                ["from the input video (32x32)", "resize the video", "height=32"],
            ),
            ({"video": video(3), "width": 64}, "width", ["from the input video", "width=32"]),
            # an explicit size is refused even when it equals the card's default
            ({"video": video(4, h=40, w=48), "height": 32}, "height", ["takes its size from the input video"]),
            ({"video": video(3, h=36, w=36)}, "video", ["multiples of 8", "resize the video to 40x40"]),
            ({"video": [Image.fromarray(image()), Image.fromarray(image(40, 40))]}, "video", ["differ in size"]),
            ({"video": video(3), "steps": 1}, "steps", ["int(steps * strength)", "at least 2", "steps=2"]),
            ({"video": video(3), "extra": {"strength": 0}}, "extra", ["strength", "(0, 1]"]),
            ({"video": video(3), "extra": {"strength": 1.5}}, "extra", ["strength", "(0, 1]"]),
            ({"extra": {"clip_skip": -1}}, "extra", ["clip_skip", "at least 0"]),
            ({"extra": {"clip_skip": 2}}, "extra", ["clip_skip", "below 2"]),
            ({"extra": {"num_frames": 4}}, "extra", ["num_frames", "spec field"]),
            ({"video": video(3), "num_frames": 5}, "num_frames", ["3 frames", "num_frames=3"]),
        ],
    ),
    "svd": (
        {"model": "tiny-svd", "image": image()},
        [
            ({"prompt": "a cat"}, "prompt", ["no text encoder", "leave prompt out"]),
            ({"negative_prompt": "blurry"}, "negative_prompt", ["no text encoder", "negative_prompt"]),
            ({"image": None}, "image", ["image-to-video", "image="]),
            ({"num_frames": 9}, "num_frames", ["at most 8", "num_frames=8"]),
            ({"num_frames": 1}, "num_frames", ["one frame gets only min_guidance_scale", "num_frames=2"]),
            ({"height": 36}, "height", ["multiple of 8", "height=40"]),
            ({"width": 20}, "width", ["multiple of 8", "width=24"]),
            ({"guidance_scale": 0.5}, "guidance_scale", ["min_guidance_scale", "guidance_scale=1.0"]),
            (
                {"guidance_scale": 2.0, "extra": {"min_guidance_scale": 2.5}},
                "guidance_scale",
                ["min_guidance_scale (2.5)", "guidance_scale=2.5"],
            ),
            ({"extra": {"max_guidance_scale": 2.0}}, "extra", ["max_guidance_scale", "guidance_scale=2.0"]),
            ({"extra": {"guidance_scale": 2.0}}, "extra", ["guidance_scale", "spec field"]),
            ({"extra": {"fps": 0}}, "extra", ["'fps'", "at least 1"]),
            ({"extra": {"fps": 7.5}}, "extra", ["'fps'", "whole number"]),
            ({"extra": {"motion_bucket_id": -1}}, "extra", ["motion_bucket_id", "at least 0"]),
            ({"extra": {"noise_aug_strength": -0.1}}, "extra", ["noise_aug_strength", "at least 0"]),
            ({"extra": {"decode_chunk_size": 0}}, "extra", ["decode_chunk_size", "at least 1"]),
            ({"extra": {"min_guidance_scale": "low"}}, "extra", ["min_guidance_scale", "a number"]),
            ({"extra": {"motion_bucket": 3}}, "extra", ["motion_bucket", "motion_bucket_id"]),
            ({"video": [image()]}, "task", ["v2v"]),
        ],
    ),
    "ltx2": (
        {"model": "tiny-ltx2", "prompt": PROMPT},
        [
            ({"num_frames": 10}, "num_frames", ["8k+1", "num_frames=9"]),
            ({"height": 48}, "height", ["multiple of 32", "height=64"]),
            ({"num_frames": 321, "fps": 12}, "num_frames", ["at most 20 s", "233 frames"]),
            ({"num_frames": 1, "fps": 240}, "num_frames", ["latent frame of audio", "9 frames", "num_frames=9"]),
            ({"extra": {"frame_rate": 30}}, "extra", ["frame_rate", "fps=30"]),
            ({"extra": {"max_seconds": 5.0}}, "extra", ["duration head", "num_frames"]),
            ({"extra": {"timesteps": [1000, 500]}}, "extra", ["timesteps", "extra['sigmas']"]),
            ({"extra": {"sigmas": [0.5, 0.9]}}, "extra", ["sigmas", "descending"]),
            ({"extra": {"spatio_temporal_guidance_blocks": []}}, "extra", ["STG is on", "stg_scale"]),
            ({"extra": {"spatio_temporal_guidance_blocks": [5]}}, "extra", ["2 blocks", "[0, 1]"]),
            ({"model": "ltx-2.3-distilled", "steps": 4}, "steps", ["documented sigmas", "extra['sigmas']"]),
            ({**COND}, "image", ["at least one condition", "last_image"]),
            ({**COND, "extra": {"conditions": [{"image": image(), "frame_index": 9}]}}, "extra", ["[0, 9)"]),
            ({"extra": {"conditions": [{"image": image()}]}}, "extra", ["task='conditioned'"]),
            ({"model": "tiny-wan", "audio": True}, "audio", ["without sound", "ltx2"]),
            ({"extra": {"enable_prompt_enhancement": True}}, "extra", ["ships no processor"]),
            ({"model": "ltx-2", "extra": {"enable_prompt_enhancement": True}}, "extra", ["system_prompt"]),
        ],
    ),
    "hunyuanvideo15": (
        {"model": "tiny-hunyuanvideo15", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"model": "hunyuanvideo1.5-480p-t2v", "height": 470}, "height", ["multiple of 16", "height=464"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=6.0"]),
            (
                {"model": "hunyuanvideo1.5-480p-t2v-distilled", "negative_prompt": "blurry"},
                "negative_prompt",
                ["guidance_scale=1.0", "leave negative_prompt out"],
            ),
            ({"model": "tiny-hunyuanvideo15-i2v"}, "image", ["image-to-video", "image="]),
            ({"image": image()}, "task", ["i2v", "tiny-hunyuanvideo15-i2v"]),
            (
                {"model": "hunyuanvideo1.5-480p-i2v", "image": image(), "height": 480, "width": 480},
                "height",
                ["only runs at", "480x848", "height=704"],
            ),
            ({"extra": {"guidance_scale": 3.0}}, "extra", ["guidance_scale", "spec field"]),
            ({"extra": {"true_cfg_scale": 3.0}}, "extra", ["true_cfg_scale", "not a parameter"]),
        ],
    ),
    "kandinsky5": (
        {"model": "tiny-kandinsky5", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=5.0"]),
            ({"model": "kandinsky5-t2v-lite-5s-nocfg", "negative_prompt": "x"}, "negative_prompt", ["leave negative"]),
            ({"extra": {"max_sequence_length": 2048}}, "extra", ["max_sequence_length", "1 to 1024"]),
            ({"num_frames": 513}, "num_frames", ["at most 509"]),
            ({"model": "kandinsky5-t2v-lite-10s", "width": 704}, "width", ["multiple of 128", "width=768"]),
            ({"model": "tiny-kandinsky5-i2v"}, "image", ["image-to-video", "image="]),
            (
                {"model": "tiny-kandinsky5-i2v", "image": image(), "num_frames": 9},
                "num_frames",
                ["NaN (black)", "num_frames=17"],
            ),
            ({"image": image()}, "task", ["i2v", "tiny-kandinsky5-i2v"]),
        ],
    ),
    "skyreels_v2": (
        {"model": "tiny-skyreels_v2-df", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"width": 40}, "width", ["multiple of 16", "width=48"]),
            ({"num_frames": 25, "extra": {"base_num_frames": 9}}, "extra", ["overlap_history", "required", "17"]),
            (
                {"num_frames": 25, "extra": {"base_num_frames": 9, "overlap_history": 9}},
                "extra",
                ["less than base_num_frames=9"],
            ),
            ({"extra": {"base_num_frames": 10}}, "extra", ["base_num_frames", "4k+1"]),
            ({"extra": {"overlap_history": 4}}, "extra", ["overlap_history", "4k+1"]),
            ({"extra": {"ar_step": -1}}, "extra", ["ar_step", "at least 0"]),
            ({"extra": {"causal_block_size": 0}}, "extra", ["causal_block_size", "at least 1"]),
            ({"extra": {"causal_block_size": 2}}, "extra", ["must divide", "3"]),
            ({"extra": {"addnoise_condition": 80}}, "extra", ["addnoise_condition", "0 to 60"]),
            ({"extra": {"fps": 16}}, "extra", ["fps", "spec field"]),
            ({"model": "tiny-skyreels_v2", "extra": {"ar_step": 5}}, "extra", ["not a diffusion-forcing model"]),
            ({"model": "tiny-skyreels_v2-i2v"}, "image", ["image-to-video", "image="]),
            ({"image": image(), "num_frames": 1}, "num_frames", ["at least 5", "num_frames=5"]),
            ({"video": [image()]}, "task", ["v2v"]),
            (
                {"model": "tiny-skyreels_v2-df", "scheduler": "FlowMatchEulerDiscreteScheduler"},
                "scheduler",
                ["integer timesteps", "UniPCMultistepScheduler"],
            ),
            (
                {
                    "model": "tiny-skyreels_v2-df",
                    "image": image(),
                    "num_frames": 17,
                    "extra": {"base_num_frames": 13, "overlap_history": 5},
                },
                "num_frames",
                ["last window shorter", "num_frames=21"],
            ),
            ({"task": "extend"}, "video", ["video extension", "video="]),
            ({"task": "extend", "video": video(9)}, "video", ["9 frames", "overlap_history (the default)=17"]),
            ({"task": "extend", "video": video(9), "image": image()}, "image", ["not used by video extension"]),
            (
                {"task": "extend", "video": video(9), "extra": {"overlap_history": 9}},
                "num_frames",
                ["adds nothing", "at least 13"],
            ),
            (
                {"task": "extend", "video": video(9), "extra": {"base_num_frames": 9}},
                "extra",
                ["overlap_history", "required", "video extension"],
            ),
            (
                {"task": "extend", "video": video(9), "extra": {"overlap_history": 5, "causal_block_size": 2}},
                "extra",
                ["must divide", "3, 2"],
            ),
            ({"model": "tiny-skyreels_v2", "task": "extend", "video": video(9)}, "task", ["video extension"]),
        ],
    ),
    "animatediff": (
        {"model": "tiny-animatediff", "prompt": PROMPT},
        [
            ({"height": 36}, "height", ["multiple of 8", "height=40"]),
            ({"num_frames": 40}, "num_frames", ["32 frames", "free_noise"]),
            ({"extra": {"free_noise": {"context_length": 40}}}, "extra", ["context_length", "32 or fewer"]),
            ({"extra": {"free_noise": {"context_stride": 20}}}, "extra", ["context_stride", "at most the length"]),
            ({"extra": {"free_noise": {"window": 8}}}, "extra", ["'window'", "context_length"]),
            ({"extra": {"free_noise": {"noise_type": "pink"}}}, "extra", ["noise_type", "shuffle_context"]),
            ({"extra": {"free_noise": "on"}}, "extra", ["True or a dict"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=7.5"]),
            ({"extra": {"clip_skip": -1}}, "extra", ["clip_skip"]),
            ({"video": video(8), "extra": {"strength": 1.5}}, "extra", ["strength", "(0, 1]"]),
            ({"image": image()}, "task", ["i2v"]),
        ],
    ),
    "helios": (
        {"model": "tiny-helios", "prompt": PROMPT},
        [
            ({"num_frames": 10}, "num_frames", ["windows of 5 frames", "num_frames=9"]),
            ({"num_frames": 15, "extra": {"num_latent_frames_per_chunk": 3}}, "num_frames", ["windows of 9", "=17"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"extra": {"num_latent_frames_per_chunk": 0}}, "extra", ["num_latent_frames_per_chunk", "at least 1"]),
            ({"extra": {"history_sizes": [2, 1]}}, "extra", ["history_sizes", "three whole numbers"]),
            ({"scheduler": "UniPCMultistepScheduler"}, "scheduler", ["HeliosScheduler"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=5.0"]),
            ({"cache": "fbc"}, "cache", ["block registry"]),
            ({"video": video()}, "task", ["v2v", "pass task='extend'"]),
            ({"task": "extend"}, "video", ["video extension", "video="]),
            ({"task": "extend", "video": video(4)}, "video", ["4 frames", "one window of 5", "at least 5"]),
            (
                {"task": "extend", "video": video(8), "num_frames": 9, "extra": {"num_latent_frames_per_chunk": 3}},
                "video",
                ["8 frames", "window of 9", "num_latent_frames_per_chunk"],
            ),
            ({"task": "extend", "video": video(9), "image": image()}, "image", ["not used by video extension"]),
            ({"task": "extend", "video": video(9), "num_frames": 10}, "num_frames", ["windows of 5", "num_frames=9"]),
            ({"parallel": "ulysses=2"}, "parallel", ["blocks 0 to 39", "has 2"]),
        ],
    ),
    "mochi": (
        {"model": "tiny-mochi", "prompt": PROMPT},
        [
            ({"num_frames": 9}, "num_frames", ["6k+1", "num_frames=7"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=4.5"]),
            ({"image": image()}, "task", ["i2v"]),
            ({"video": video()}, "task", ["v2v"]),
            ({"scheduler": "UniPCMultistepScheduler"}, "scheduler", ["invert_sigmas=True", "Leave scheduler out"]),
            ({"steps": 1}, "steps", ["at least 2", "steps=2"]),
        ],
    ),
    "sana_video": (
        {"model": "tiny-sana_video", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"num_frames": 257}, "num_frames", ["rotary position table", "num_frames=125"]),
            ({"height": 48}, "height", ["multiple of 32", "height=64"]),
            ({"model": "sana-video-2b-480p", "height": 624, "width": 624}, "height", ["only runs at", "480x832"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=6.0"]),
            ({"extra": {"frames": 17}}, "extra", ["frames", "num_frames"]),
            ({"model": "tiny-sana_video-i2v"}, "image", ["image-to-video", "image="]),
            ({"cache": "taylorseer"}, "cache", ["CacheMixin"]),
        ],
    ),
    "easyanimate": (
        {"model": "tiny-easyanimate", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"model": "easyanimate-v5.1-12b", "num_frames": 53}, "num_frames", ["49"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=6.0"]),
            ({"model": "tiny-easyanimate-inp"}, "image", ["image-to-video", "image="]),
            ({"model": "tiny-easyanimate-inp", "task": "flf2v", "image": image()}, "last_image", ["last_image"]),
            ({"image": image()}, "task", ["i2v", "tiny-easyanimate-inp"]),
            ({"cache": "taylorseer"}, "cache", ["CacheMixin", "'dbcache'"]),
            ({"loras": [("x.safetensors", 1.0)]}, "loras", ["LoRA"]),
        ],
    ),
    "allegro": (
        {"model": "tiny-allegro", "prompt": PROMPT},
        [
            ({"num_frames": 25}, "num_frames", ["16k+8", "num_frames=24"]),
            ({"num_frames": 8}, "num_frames", ["tiles of 24 frames", "num_frames=24"]),
            ({"height": 112}, "height", ["VAE tiles", "128 + 8·k", "height=128"]),
            ({"width": 144}, "width", ["VAE tiles", "128 + 48·k", "width=128"]),
            ({"model": "allegro", "height": 480, "width": 1280}, "height", ["320 + 200·k", "height=320"]),
            ({"model": "allegro", "width": 1200}, "width", ["320 + 240·k", "width=1280"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=7.5"]),
            ({"image": image()}, "task", ["i2v"]),
            ({"cache": "fbc"}, "cache", ["block registry", "'taylorseer'"]),
            ({"loras": [("x.safetensors", 1.0)]}, "loras", ["LoRA"]),
        ],
    ),
    "latte": (
        {"model": "tiny-latte", "prompt": PROMPT},
        [
            ({"num_frames": 5}, "num_frames", ["temporal position table of 4 rows", "num_frames=4"]),
            ({"model": "latte-1", "num_frames": 24}, "num_frames", ["video_length", "num_frames=16"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"negative_prompt": "blurry", "guidance_scale": 1.0}, "negative_prompt", ["guidance_scale=7.5"]),
            ({"image": image()}, "task", ["i2v"]),
            ({"cache": "fbc"}, "cache", ["interleaves spatial and temporal", "'pab'"]),
            ({"cache": "dbcache"}, "cache", ["no Latte adapter"]),
            ({"loras": [("x.safetensors", 1.0)]}, "loras", ["LoRA"]),
        ],
    ),
    "wan_vace": (
        {"model": "tiny-wan_vace", "prompt": PROMPT},
        [
            ({"num_frames": 8}, "num_frames", ["4k+1", "num_frames=9"]),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"task": "flf2v", "image": image()}, "last_image", ["last_image"]),
            ({"task": "v2v"}, "video", ["video"]),
            ({"video": video(5), "num_frames": 9}, "num_frames", ["5 frames", "num_frames=5"]),
            ({"extra": {"reference_image": image()}}, "extra", ["reference_image", "not a parameter"]),
            ({"extra": {"reference_images": [image()]}}, "extra", ["reference_images", "spec field reference_images"]),
            ({"video": video(9), "extra": {"mask": [image()] * 9}}, "extra", ["mask", "spec field mask"]),
            ({"mask": image()}, "mask", ["not used by text-to-video", "task 'v2v'"]),
            ({"image": image(), "mask": image()}, "mask", ["not used by image-to-video", "task 'v2v'"]),
            ({"video": video(9), "mask": video(5)}, "mask", ["5 frames", "num_frames=9", "num_frames=5"]),
            ({"video": video(9), "mask": image(48, 32)}, "mask", ["32×48", "32×32 mask"]),
            ({"reference_images": []}, "reference_images", ["empty", "one image"]),
            ({"reference_images": [image()] * 17}, "reference_images", ["17 images", "at most 16"]),
            ({"reference_images": ["/no/such/ref.png"]}, "reference_images", ["reference_images[0]", "no file"]),
            ({"num_frames": 125, "reference_images": [image()]}, "reference_images", ["rotary", "at most 0"]),
            ({"pose_video": video(9)}, "task", ["character animation", "tasks are"]),
        ],
    ),
    "wan_animate": (
        {
            "model": "tiny-wan_animate",
            "prompt": PROMPT,
            "image": image(),
            "pose_video": video(5),
            "face_video": video(5),
        },
        [
            ({"image": None}, "image", ["character animation", "image="]),
            ({"face_video": None}, "face_video", ["face_video is required", "character animation"]),
            ({"task": "replace", "mask": image()}, "video", ["video is required", "character replacement"]),
            ({"video": video(5)}, "mask", ["mask is required", "character replacement"]),
            ({"reference_images": [image()]}, "reference_images", ["not used by character animation"]),
            ({"mask": image(), "task": "animate"}, "mask", ["not used by character animation", "'replace'"]),
            ({"num_frames": 7}, "num_frames", ["pose_video's 5 frames", "num_frames=5"]),
            ({"face_video": video(3)}, "face_video", ["3 frames", "num_frames=3"]),
            ({"video": video(4), "mask": image()}, "video", ["4 frames", "num_frames=4"]),
            (
                {"pose_video": video(1), "face_video": video(1)},
                "num_frames",
                ["more frames than the 1", "num_frames=2"],
            ),
            ({"height": 40}, "height", ["multiple of 16", "height=48"]),
            ({"negative_prompt": "blurry"}, "negative_prompt", ["guidance_scale=5.0"]),
            ({"extra": {"prev_segment_conditioning_frames": 3}}, "extra", ["1 or 5"]),
            ({"extra": {"segment_frame_length": 8}}, "extra", ["4k+1", "segment_frame_length']=9"]),
            (
                {"extra": {"segment_frame_length": 9, "prev_segment_conditioning_frames": 5}},
                "extra",
                ["more than twice", "segment_frame_length']=13"],
            ),
            ({"extra": {"segment_frame_length": 125}}, "extra", ["rotary position table", "length']=121"]),
            ({"extra": {"mode": "replace"}}, "extra", ["mode", "spec field"]),
            ({"extra": {"background_video": [image()]}}, "extra", ["background_video", "set by videogen"]),
            ({"cache": "fbc"}, "cache", ["face adapters"]),
            ({"parallel": "ulysses=2"}, "parallel", ["context-parallel"]),
        ],
    ),
}


def _params() -> list:
    return [
        pytest.param({**base, **case[0]}, case[1], case[2], id=f"{group}-{i}-{case[1]}")
        for group, (base, cases) in CASES.items()
        for i, case in enumerate(cases)
    ]


@pytest.mark.parametrize(("spec", "field", "words"), _params())
def test_bad_spec_is_a_spec_error_before_any_load(
    spec: dict, field: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = type(videogen.loading.pipelines.CACHE)()  # empty: a load the shared cache would answer counts here
    monkeypatch.setattr(videogen.loading.pipelines, "CACHE", fresh)
    with pytest.raises(videogen.SpecError) as info:
        videogen.generate(seed=7, progress=False, **spec)
    assert info.value.field == field, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)
    assert fresh.loads == 0 and len(fresh) == 0, "weights loaded before the SpecError"
