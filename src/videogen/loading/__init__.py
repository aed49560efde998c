"""Pipelines in memory: locating and loading a pipeline (tiny build, Hub, folder) into the bounded
pipeline cache, the spec's LoRAs and the scheduler swapped in for a call. Imports `catalog`, `families` and the
basics below them; never `memory`, `speed`, `checks` or `generation`.
"""
