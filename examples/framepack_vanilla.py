"""FramePack F1 image-to-video with vanilla sampling (diffusers docs: HunyuanVideo FramePack, "F1")."""

import argparse

import videogen

IMAGE = "https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/penguin.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="framepack_vanilla.mp4")
    args = parser.parse_args(argv)

    result = videogen.generate(
        model="tiny-framepack-f1" if args.tiny else "framepack-f1-i2v-hy",
        prompt="A penguin dancing in the snow",
        image=videogen.testing.sample_image(32, 32) if args.tiny else IMAGE,
        seed=0,
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"height": 832, "width": 480, "num_frames": 91, "steps": 30, "guidance_scale": 9.0}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
