"""Wan 2.1 T2V 1.3B with a LoRA (diffusers docs: Wan, "LoRA").

The LoRA is loaded once per cached pipeline and switched with `set_adapters`; a later call without
`loras` gets the plain model back.
"""

import argparse

import videogen
from videogen import LoRA


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="run offline on the tiny random-weight model")
    parser.add_argument("-o", "--output", default="wan_lora.mp4")
    args = parser.parse_args(argv)

    if args.tiny:
        lora = LoRA(str(videogen.testing.tiny_lora("wan")), weight=1.0, name="steamboat")
    else:
        lora = LoRA(
            "benjamin-paine/steamboat-willie-1.3b",
            weight=1.0,
            name="steamboat",
            weight_name="steamboat-willie-1.3b.safetensors",
        )
    result = videogen.generate(
        model="tiny-wan" if args.tiny else "wan2.1-t2v-1.3b",
        prompt="steamboat willie style, golden era animation, an anthropomorphic cat character wearing a "
        "hat removes it and performs a courteous bow",
        loras=[lora],
        seed=0,
        scheduler=None if args.tiny else {"name": "UniPCMultistepScheduler", "flow_shift": 5.0},
        **({} if args.tiny else {"height": 480, "width": 832, "num_frames": 81, "guidance_scale": 5.0}),
    )
    print(result.save(args.output, overwrite=True))
    return result


if __name__ == "__main__":
    main()
