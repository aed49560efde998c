"""Stable Video Diffusion XT with micro-conditioning (diffusers docs: SVD, "micro-conditioning").

`fps`, `motion_bucket_id` and `noise_aug_strength` condition the model; they go through `extra`.
SVD's conditioning fps is not the playback fps: `spec.fps` (7 here) is what the file plays at.
"""

import argparse

import videogen

IMAGE = "https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/svd/rocket.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="svd_microconditioning.mp4")
    args = parser.parse_args(argv)

    image = videogen.testing.sample_image(32, 32) if args.tiny else IMAGE
    result = videogen.generate(
        model="tiny-svd" if args.tiny else "svd-img2vid-xt",
        image=image,
        seed=42,
        fps=7,
        extra={"fps": 7, "motion_bucket_id": 180, "noise_aug_strength": 0.1, "decode_chunk_size": 8},
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"height": 576, "width": 1024}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
