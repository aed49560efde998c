"""What a checkpoint is and where it lives: `ModelCard` (defaults, rules, dtypes) and its frame/size
arithmetic, the stored full-size architecture configs, and the Hub (offline-aware). Below the
families, which declare their cards with it.
"""
