"""ganrun: a config-driven command-line runner for GAN experiments, and the same from Python:

    import ganrun
    run = ganrun.train(["dataset=ring", "model=mlp", "train.steps=500"])
    x = ganrun.load(run.folder).sample(1000)

(ganrun/api.py). Importing ganrun imports nothing heavy: `train`, `load` and `register` are
looked up when first used, so the commands' start-up stays fast.
"""

__version__ = "0.1.0"
__all__ = ["train", "load", "register", "register_metric"]


def __getattr__(name: str):
    if name in ("train", "load"):
        from ganrun import api

        return getattr(api, name)
    if name in ("register", "register_metric"):
        from ganrun import config

        return getattr(config, name)
    raise AttributeError(f"module 'ganrun' has no attribute {name!r}")
