"""Going faster: step caches (the `VideoSpec.cache` setting checked and completed, diffusers' cache hooks on the
denoisers for one call, the DeepCache-style hook for the video UNets) and context parallelism (`parallel`: one
video over several GPUs). Imports `memory` (parallelism reads its figures) and below; `checks` and `generation`
import it.
"""
