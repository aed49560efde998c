"""The spec's rules before anything loads: defaults, bounds and family rules (`rules`), and the checks
against the pipeline's call from the stored signatures (`arguments`). Pure Python, no torch.
"""
