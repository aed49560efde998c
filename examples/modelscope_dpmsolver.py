"""ModelScope text-to-video 1.7B with DPM-Solver++ (diffusers docs: Text-to-video, "DPMSolver").

The scheduler is built from the pipeline's own scheduler config (`from_config`), as the docs do.
"""

import argparse

import videogen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="modelscope_dpmsolver.mp4")
    args = parser.parse_args(argv)

    result = videogen.generate(
        model="tiny-modelscope" if args.tiny else "text-to-video-ms-1.7b",
        prompt="Spiderman is surfing",
        scheduler="DPMSolverMultistepScheduler",
        seed=0,
        memory="none" if args.tiny else "balanced",
        **({} if args.tiny else {"num_frames": 24, "steps": 25}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
