"""The spec's rules before anything loads: defaults, bounds and family rules (`rules`), and the checks
against the pipeline's call from the stored signatures (`arguments`). Pure Python, no torch. Imports `speed`
(the step-cache rules), `loading` (LoRA and scheduler names) and below; never `memory`.
"""
