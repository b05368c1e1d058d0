"""Which torch device a job runs on: ``device=auto`` that spreads parallel jobs over the GPUs.

Parallel jobs on one multi-GPU node must not all take ``cuda:0``. That is what happens with
Hydra's ``submitit_local`` launcher (submitit's local executor gives every job the same
``CUDA_VISIBLE_DEVICES=0,...,N-1``), with the joblib launcher, and with several tasks per node
under SLURM when the scheduler does not bind one GPU per task. A job therefore takes a *slot*::

    slot = job_num * tasks_per_node + local_rank
    device = cuda:(slot mod number of visible GPUs)

``job_num`` is the job's index in the Hydra multirun (``hydra.job.num``; 0 for a single run);
``local_rank`` and ``tasks_per_node`` come from the first variable that is set of
``LOCAL_RANK`` / ``LOCAL_WORLD_SIZE`` (torchrun), ``SLURM_LOCALID`` / ``SLURM_NTASKS_PER_NODE``,
``SUBMITIT_LOCAL_LOCALID`` / ``SUBMITIT_LOCAL_NTASKS``. When the scheduler binds GPUs itself (SLURM
with ``gpus_per_task``: each job sees only its own GPU, ``CUDA_VISIBLE_DEVICES`` lists one device)
the count of visible GPUs is 1 and every job takes ``cuda:0``, its own GPU. The jobs of a
multirun are spread evenly as long as no more of them run at once than there are GPUs.

Names: ``auto`` (a GPU by slot when CUDA is available, else ``cpu``), ``cuda`` (a GPU by slot;
an error without CUDA), ``cuda:N`` (exactly that GPU), ``cpu``, or any other torch device name.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import torch

from semcom.errors import SemcomError

log = logging.getLogger(__name__)

_RANK_VARS = (("LOCAL_RANK", "LOCAL_WORLD_SIZE"), ("SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"), ("SUBMITIT_LOCAL_LOCALID", "SUBMITIT_LOCAL_NTASKS"))


def _leading_int(text: str | None) -> int | None:
    """``"3"`` -> 3; SLURM's ``"2(x3)"`` -> 2; unset or unparsable -> None."""
    if text is None:
        return None
    m = re.match(r"\s*(\d+)", str(text))
    return int(m.group(1)) if m else None


def device_slot(job_num: int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``job_num * tasks_per_node + local_rank`` from the job number and the launcher's variables."""
    env = os.environ if environ is None else environ
    local_rank, ntasks = 0, 1
    for rank_var, size_var in _RANK_VARS:
        rank = _leading_int(env.get(rank_var))
        if rank is not None:
            local_rank = rank
            ntasks = max(_leading_int(env.get(size_var)) or 1, rank + 1)
            break
    return int(job_num or 0) * ntasks + local_rank


def select_device(name: str | None = "auto", job_num: int | None = None, environ: Mapping[str, str] | None = None) -> torch.device:
    """The device for a job (see the module docstring); raises SemcomError for an unusable name."""
    name = "auto" if name is None else str(name).strip()
    if name == "cpu":
        return torch.device("cpu")
    cuda = torch.cuda.is_available()
    if name in ("auto", "cuda"):
        if not cuda:
            if name == "cuda":
                raise SemcomError("device=cuda but no CUDA GPU is available: use device=cpu or device=auto")
            return torch.device("cpu")
        count = torch.cuda.device_count()
        index = device_slot(job_num, environ) % count
        env = os.environ if environ is None else environ
        log.info("device cuda:%d (slot %d of %d visible GPUs, CUDA_VISIBLE_DEVICES=%s)", index, device_slot(job_num, environ), count,
                 env.get("CUDA_VISIBLE_DEVICES", "unset"))
        return torch.device("cuda", index)
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise SemcomError(f"device={name!r} is not a torch device: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not cuda:
            raise SemcomError(f"device={name} but no CUDA GPU is available: use device=cpu or device=auto")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise SemcomError(f"device={name} but only {count} GPU(s) are visible: use cuda:0..cuda:{count - 1} or device=auto")
    return dev
