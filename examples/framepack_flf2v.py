"""FramePack first-last-frame-to-video (diffusers docs: HunyuanVideo FramePack, "First and last frame").

FramePackI2V_HY samples with inverted anti-drifting, the sampling that can aim at a last frame; the
card assembles the model from its three repos (transformer, HunyuanVideo base, SigLIP image encoder).
"""

import argparse

import videogen

BASE = "https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/"
FIRST, LAST = BASE + "flf2v_input_first_frame.png", BASE + "flf2v_input_last_frame.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="framepack_flf2v.mp4")
    args = parser.parse_args(argv)

    if args.tiny:
        first = videogen.testing.sample_image(32, 32)
        last = first.transpose(0)  # mirrored: a different last frame
    else:
        first, last = FIRST, LAST
    result = videogen.generate(
        model="tiny-framepack" if args.tiny else "framepack-i2v-hy",
        prompt="CG animation style, a small blue bird takes off from the ground, flapping its wings.",
        image=first,
        last_image=last,
        seed=0,
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"height": 512, "width": 512, "num_frames": 91, "steps": 30, "guidance_scale": 9.0}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
