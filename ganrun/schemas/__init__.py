"""The options of ganrun's config groups that build something: game, model, dataset, loss and
optimizer, one module per group.

Each module declares its options' schemas (keys, types, ranges, defaults: what Hydra checks a
config against) and registers each one with its builder, written as "ganrun.module:name". These
modules import no torch, so that `ganrun --help`, `ganrun --cfg job` and a config error answer
at once; a builder's module is imported when a run first builds that option (ganrun/config.py).
"""
