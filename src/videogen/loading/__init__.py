"""Pipelines in memory: locating and loading a pipeline (tiny build, Hub, folder) into the bounded
pipeline cache, the spec's LoRAs and the scheduler swapped in for a call. Imports `checks`'s
neighbours below (`speed`, `catalog`, `families`, ...), never `memory` or `generation`.
"""
