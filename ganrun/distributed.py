"""Data-parallel training of one run over several processes, launched by torchrun:

    torchrun --nproc_per_node=4 -m ganrun dataset=cifar10 model=resnet     # 4 GPUs, one machine
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-endpoint=HOST:29500 -m ganrun ...   # two machines

Every process (rank) builds the same networks from the same seed, then draws its own data and
noise from a stream of its own (rank 0's is the single-process stream). Before every optimizer
step the gradients of the player being updated are averaged over the ranks (one all-reduce of
the flattened gradients), so every rank takes the same step and the weights stay identical:
one step is a step of a global batch of train.batch_size x processes. This is what
DistributedDataParallel does, done at the optimizer step rather than inside backward, because
GAN steps run D several times per backward and differentiate through D for gradient
penalties and G's update, which DDP's hooks do not support.

Rank 0 alone writes: TensorBoard, pictures, checkpoints, evaluation and metrics.json, all in the
one run folder. A checkpoint also holds every other rank's own state (its RNG streams, replay
buffer, image pools, data position), gathered by rank 0, so a stopped run resumes exactly.
Backends: nccl for CUDA tensors, gloo for CPU ones (one process group serves both).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

RANK_SEED_STRIDE = 1_000_003   # rank r > 0 draws from seed + r * stride


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def active() -> bool:
    """Launched by torchrun (or the like) with more than one process."""
    return world_size() > 1


def is_main() -> bool:
    """The process that writes (rank 0; the only one outside torchrun)."""
    return rank() == 0


def init() -> None:
    """Join the process group (once, before Hydra composes the run)."""
    import torch
    import torch.distributed as dist

    if not active() or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())      # before any collective: one GPU per process
        dist.init_process_group(backend="cpu:gloo,cuda:nccl")
    else:
        dist.init_process_group(backend="gloo")


def shutdown(clean: bool) -> None:
    """Leave the process group at the end of the command. After a run that went well, every
    rank waits for the others (rank 0 still evaluates): a rank that exits with the group still
    open aborts in gloo's threads, and torchrun then stops the rest."""
    if not active():
        return
    import torch.distributed as dist

    if dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def broadcast(value: Any) -> Any:
    """Rank 0's `value`, on every rank (a small picklable object)."""
    import torch.distributed as dist

    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def average_gradients(params: list) -> None:
    """Replace each gradient by its mean over the ranks: one all-reduce of their concatenation."""
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    if not grads or not active():
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads)])


def mean(t):
    """The mean of a tensor over the ranks (itself outside torchrun): statistics that steer a run
    (ADA's r_t, BEGAN's balance) must agree on every rank."""
    import torch.distributed as dist

    if not active():
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / world_size()


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is true on one (a stop signal, a health stop)."""
    return _agree(flag, "MAX")


def all_true(flag: bool) -> bool:
    """True on every rank when `flag` is true on all (a finite loss everywhere)."""
    return _agree(flag, "MIN")


def _agree(flag: bool, op: str) -> bool:
    import torch
    import torch.distributed as dist

    if not active():
        return flag
    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    return bool(t.item())


def gather(value: Any) -> Optional[list]:
    """Every rank's `value` as a list on rank 0 (None on the others)."""
    import torch.distributed as dist

    if not active():
        return [value]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(value, out, dst=0)
    return out


def fingerprint(modules: list) -> str:
    """A digest of the networks' parameters: equal on every rank while they stay in step."""
    digest = hashlib.sha256()
    for module in modules:
        for p in module.parameters():
            digest.update(p.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]
