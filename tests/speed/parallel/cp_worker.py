"""Tiny generations under `torchrun` for tests/speed/parallel/test_parallel.py: `python -m torch.distributed.run
--nproc-per-node N tests/speed/parallel/cp_worker.py OUT_DIR '{"NAME": {"model": ..., "parallel": ...}, ...}'`.

Every rank calls `videogen.generate` with each job's fields, in order; rank 0 (`is_main_process`) saves the frames
as OUT_DIR/NAME.npy and the metadata as NAME.json; every rank writes the SHA-1 of its frames to NAME.rank<R>.sha1
so the test can check that all ranks got the same video. A job with `"_bare": true` runs without videogen's
workarounds for diffusers' context-parallel bugs (`parallel_run.ULYSSES_MASK_WORKAROUND_ON` off; the pipeline cache
is cleared after it), to see that diffusers still breaks it; its error, if any, goes to NAME.rank<R>.error instead
of stopping the worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    import numpy as np

    import videogen
    from videogen.speed.parallel import checks as parallel
    from videogen.speed.parallel import run as parallel_run

    out, jobs = Path(argv[0]), json.loads(argv[1])
    rank = int(os.environ.get("RANK", "0"))
    for name, fields in jobs.items():
        bare = bool(fields.pop("_bare", False))
        parallel_run.ULYSSES_MASK_WORKAROUND_ON = not bare
        try:
            result = videogen.generate(progress=False, **fields)
        except Exception as exc:  # noqa: BLE001 - only for jobs that expect diffusers to fail
            if not bare:
                raise
            (out / f"{name}.rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
            continue
        finally:
            parallel_run.ULYSSES_MASK_WORKAROUND_ON = True
            if bare:
                videogen.clear_cache()  # the next job loads (and sets up) its pipeline afresh
        frames = np.ascontiguousarray(result.frames)
        (out / f"{name}.rank{rank}.sha1").write_text(hashlib.sha1(frames.tobytes()).hexdigest())
        if parallel.is_main_process():
            np.save(out / f"{name}.npy", frames)
            (out / f"{name}.json").write_text(json.dumps(result.metadata, default=repr))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
