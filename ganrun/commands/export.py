"""`ganrun-export`: G's weights as a safetensors file, for sharing.

    ganrun-export outputs/2026-01-01/12-00-00-000000                 # -> <run>/generator_step_XXXXXXX.safetensors
    ganrun-export run/checkpoints/step_0002000.pt --out g.safetensors

The file holds G_ema when the run kept one (else G), and in its metadata the config, sample
shape and step, so `ganrun-sample` and `ganrun-eval` read it like a checkpoint. Unlike a
pickle, a safetensors file cannot run code when it is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganrun.errors import GanrunError, entry_point


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ganrun-export", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("checkpoint", help="a checkpoint file, or a run folder (its last checkpoint)")
    p.add_argument("--out", help="the .safetensors file to write")
    args = p.parse_args(argv)
    return entry_point("ganrun-export", lambda: export(args))


def export(args: argparse.Namespace) -> int:
    from ganrun.checkpoint import export_generator, generator_weights, load_checkpoint, resolve_checkpoint

    ckpt = resolve_checkpoint(args.checkpoint)
    state = load_checkpoint(ckpt)
    if state["data_kind"] in ("paired", "unpaired"):
        raise GanrunError(f"{ckpt} is an image-to-image run: share its checkpoint, which ganrun-translate reads "
                          f"(ganrun-export writes a single generator)")
    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else Path.cwd()
    out = Path(args.out) if args.out else run / f"generator_step_{state['step']:07d}.safetensors"
    if out.suffix != ".safetensors":
        raise GanrunError(f"--out {out}: use a .safetensors file name")
    # the generator as ganrun-sample would load it (its config rebuilt, its weights fitted and finite):
    # an export of weights that do not load would fail only later, in someone else's hands
    from ganrun.trained import load_trained

    load_trained(ckpt, device="cpu")
    export_generator(state, out)
    _, which = generator_weights(state)
    print(f"{which} of {ckpt} (step {state['step']}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
