"""Data-parallel training under torchrun: this process's place in the run, joining and leaving
the process group, and agreeing on a flag across ranks."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> Distributed:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a no-op.

    The backend is NCCL on CUDA and gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def shutdown_distributed(info: Distributed) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_flag(flag: bool, info: Distributed) -> bool:
    """True on every rank if any rank says True (e.g. a non-finite loss)."""
    if not info.enabled:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())
