"""CogVideoX-5b with torch.compile (diffusers docs: CogVideoX, "torch.compile").

The docs compile the whole transformer (`torch.compile(pipe.transformer, mode="max-autotune",
fullgraph=True)`); in videogen that is a memory-plan setting, applied once per cached pipeline.
"""

import argparse

import videogen
from videogen import MemoryPlan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="cogvideox_compile.mp4")
    args = parser.parse_args(argv)

    plan = MemoryPlan(
        name="compiled", compile="full", compile_fullgraph=True, compile_mode=None if args.tiny else "max-autotune"
    )
    result = videogen.generate(
        model="tiny-cogvideox" if args.tiny else "cogvideox-5b",
        prompt="A panda, dressed in a small, red jacket and a tiny hat, sits on a wooden stool in a serene "
        "bamboo forest, strumming a miniature acoustic guitar.",
        seed=42,
        memory=plan,
        **({} if args.tiny else {"num_frames": 49, "steps": 50, "guidance_scale": 6.0}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
