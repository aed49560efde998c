"""LTX-Video text-to-video (diffusers docs: LTX-Video)."""

import argparse

import videogen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="ltx_t2v.mp4")
    args = parser.parse_args(argv)

    result = videogen.generate(
        model="tiny-ltx" if args.tiny else "ltx-video",
        prompt="A woman with long brown hair and light skin smiles at another woman with long blonde hair. "
        "The camera angle is a close-up, focused on the woman with brown hair's face.",
        negative_prompt="worst quality, inconsistent motion, blurry, jittery, distorted",
        seed=0,
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"height": 480, "width": 704, "num_frames": 161, "fps": 25, "steps": 50}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
