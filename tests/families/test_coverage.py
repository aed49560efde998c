"""Every video pipeline of the installed diffusers is accounted for: wrapped by a family, driven by the generic
family, or on the "not yet" list with the reason. A diffusers upgrade that adds one fails here, naming it.

What counts as a video pipeline (`videogen.families.generic.video_pipelines`, the rule the generic family itself
resolves folders by): a class of `diffusers.pipelines` whose name ends in "Pipeline" and whose `__call__` builds
an output class derived from diffusers' `BaseOutput` with a `frames` field. Every video pipeline returns its video
as `frames` (image pipelines return `images`, audio ones `audios`), and the class must be the one that builds it,
not a mixin or a helper dataclass that merely has a `frames` field (LTX-2's condition classes). It is read from
the installed package's source with `ast`, so no pipeline is imported (under a second) and deprecated pipelines
(`pipelines/deprecated/`, ModelScope's and I2VGen-XL's among them) count too.

The generic family's one tiny run (tests/families/test_generic.py: AnyFlow, against the direct diffusers call)
stands for the classes in GENERIC: each is checked here to pass the generic family's mapping (`refusal` is None:
a prompt, no required argument the spec can't fill), from its `__call__`'s signature.
"""

from __future__ import annotations

from videogen.families import known_pipeline_classes
from videogen.families.generic import refusal, video_pipelines

#: driven by the generic family (its call maps by name); what a family of its own would add, in a word
GENERIC = {
    "AnimateDiffPAGPipeline": "perturbed-attention guidance's layers",
    "AnimateDiffSDXLPipeline": "SDXL's size rules",
    "AnyFlowPipeline": "its flow schedule",
    "AnyFlowFARPipeline": "its autoregressive windows",
    "ChronoEditPipeline": "temporal reasoning steps",
    "Cosmos2VideoToWorldPipeline": "what CosmosVideoToWorldPipeline needs; frames 4k+1 (Wan's VAE)",
    "Cosmos2_5_PredictBasePipeline": "what CosmosVideoToWorldPipeline needs; t2v/i2v/v2v in one call, its LoRAs",
    "CosmosTextToWorldPipeline": "the guardrail (cosmos_guardrail, a separate model the pipeline loads itself), "
    "torchvision (its transformer's padding mask), frames 8k+1",
    "CosmosVideoToWorldPipeline": "the guardrail and torchvision; a video it continues past its own length (v2v "
    "caps num_frames at the video's)",
    "HeliosPyramidPipeline": "its pyramid stages",
    "HunyuanSkyreelsImageToVideoPipeline": "HunyuanVideo's rules (the hunyuanvideo family's other pipelines)",
    "Kandinsky6TI2VAPipeline": "its sound and sizes",
    "LTXI2VLongMultiPromptPipeline": "its prompt segments and temporal tiles",
    "LucyEditPipeline": "video editing's sizes",
    "MotifVideoPipeline": "its sizes and frame rule",
    "MotifVideoImage2VideoPipeline": "its sizes and frame rule",
    "PIAPipeline": "(deprecated in diffusers) the motion adapter's frame window",
}

#: not driven yet (the generic family refuses them, saying why): why, and what it would take
NOT_YET = {
    "AnimateDiffControlNetPipeline": "ControlNet conditioning frames: a spec input to add",
    "AnimateDiffSparseControlNetPipeline": "sparse ControlNet frames and indices: a spec input to add",
    "AnimateDiffVideoToVideoControlNetPipeline": "ControlNet conditioning frames: a spec input to add",
    "CogVideoXFunControlPipeline": "a control video: a spec input for the cogvideox family",
    "EasyAnimateControlPipeline": "a control video or camera trajectory: a spec input for the easyanimate family",
    "ConsisIDPipeline": "face identity embeddings computed by a separate face model",
    "Cosmos2_5_TransferPipeline": "its control inputs (controls): a required argument with no spec field",
    "Kandinsky6SRPipeline": "video super-resolution (no prompt): not a generation from a spec",
    "LTX2HDRPipeline": "an IC-LoRA pipeline with reference conditions",
    "LTX2InContextPipeline": "an IC-LoRA pipeline with its conditions",
    "LTX2LatentUpsamplePipeline": "a stage inside LTX-2's two-stage generation (the ltx2 family runs it)",
    "LTX2VideoDiffusionDecodePipeline": "a decoder stage over latents (latents required)",
    "LTXLatentUpsamplePipeline": "a stage of LTX's two-stage generation (latents or a video, no prompt)",
    "SanaWMPipeline": "camera poses or actions (a world model): spec inputs to add",
}


def test_every_video_pipeline_is_wrapped_driven_or_not_yet() -> None:
    found = set(video_pipelines())
    wrapped = known_pipeline_classes() & found
    unaccounted = sorted(found - wrapped - set(GENERIC) - set(NOT_YET))
    assert not unaccounted, (
        f"video pipelines of the installed diffusers that nothing accounts for: {', '.join(unaccounted)}; give "
        "each a family, or list it in GENERIC (after checking the generic family drives it) or NOT_YET (with why)"
    )


def test_the_lists_hold_no_stale_entries() -> None:
    found = set(video_pipelines())
    assert not set(GENERIC) & set(NOT_YET)
    gone = sorted((set(GENERIC) | set(NOT_YET)) - found)
    assert not gone, f"no longer video pipelines of the installed diffusers: {', '.join(gone)}; remove them"
    wrapped = sorted(known_pipeline_classes() & (set(GENERIC) | set(NOT_YET)))
    assert not wrapped, f"now wrapped by a family: {', '.join(wrapped)}; remove them from GENERIC / NOT_YET"


def test_generic_classes_pass_the_mapping_and_not_yet_ones_are_refused() -> None:
    assert {name: refusal(name) for name in GENERIC} == dict.fromkeys(GENERIC)
    refused = {name: refusal(name) for name in NOT_YET}
    assert all(refused.values()), [name for name, why in refused.items() if not why]


def test_the_rule_finds_the_families_pipelines_and_no_image_pipeline() -> None:
    found = video_pipelines()
    # every pipeline a family wraps is a video pipeline by the rule, the deprecated ones too
    assert known_pipeline_classes() <= set(found), sorted(known_pipeline_classes() - set(found))
    assert found["TextToVideoSDPipeline"]["file"].startswith("deprecated/")
    for image_pipeline in ("FluxPipeline", "StableDiffusionPipeline", "WanImageToImagePipeline", "SanaPipeline"):
        assert image_pipeline not in found
