"""Step caches: the `VideoSpec.cache` setting checked and completed (pure), diffusers' cache hooks on the
denoisers for one call, and the DeepCache-style hook for the video UNets. Imports `families` and below.
"""
