"""I2VGen-XL image-to-video with a prompt (diffusers docs: I2VGen-XL).

videogen passes `clip_skip=None`: the pipeline's default `clip_skip=1` crashes on transformers >= 5.6.
"""

import argparse

import videogen

IMAGE = "https://huggingface.co/datasets/diffusers/docs-images/resolve/main/i2vgen_xl_images/img_0009.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="i2vgen_xl.mp4")
    args = parser.parse_args(argv)

    result = videogen.generate(
        model="tiny-i2vgen-xl" if args.tiny else "i2vgen-xl",
        prompt="Papers were floating in the air on a table in the library",
        negative_prompt="Distorted, discontinuous, Ugly, blurry, low resolution, motionless, static, "
        "disfigured, disconnected limbs, Ugly faces, incomplete arms",
        image=videogen.testing.sample_image(32, 32) if args.tiny else IMAGE,
        seed=8888,
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"steps": 50, "guidance_scale": 9.0}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
