"""Tiny generations under `torchrun` for tests/test_parallel.py: `python -m torch.distributed.run
--nproc-per-node N tests/cp_worker.py OUT_DIR '{"NAME": {"model": ..., "parallel": ...}, ...}'`.

Every rank calls `videogen.generate` with each job's fields, in order; rank 0 (`is_main_process`) saves the frames
as OUT_DIR/NAME.npy and the metadata as NAME.json; every rank writes the SHA-1 of its frames to NAME.rank<R>.sha1
so the test can check that all ranks got the same video. A job with `"_unrefuse": [class, ...]` runs with those
transformer classes taken out of `videogen.parallel.BROKEN_PLANS` (to see that diffusers still breaks them); its
error, if any, goes to NAME.rank<R>.error instead of stopping the worker.
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
    from videogen import parallel

    out, jobs = Path(argv[0]), json.loads(argv[1])
    rank = int(os.environ.get("RANK", "0"))
    for name, fields in jobs.items():
        unrefuse = fields.pop("_unrefuse", [])
        refused = {cls: parallel.BROKEN_PLANS.pop(cls) for cls in unrefuse}
        try:
            result = videogen.generate(progress=False, **fields)
        except Exception as exc:  # noqa: BLE001 - only for jobs that expect diffusers to fail
            if not unrefuse:
                raise
            (out / f"{name}.rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}")
            continue
        finally:
            parallel.BROKEN_PLANS.update(refused)
        frames = np.ascontiguousarray(result.frames)
        (out / f"{name}.rank{rank}.sha1").write_text(hashlib.sha1(frames.tobytes()).hexdigest())
        if parallel.is_main_process():
            np.save(out / f"{name}.npy", frames)
            (out / f"{name}.json").write_text(json.dumps(result.metadata, default=repr))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
