"""device=auto on multi-GPU nodes: parallel jobs spread over the GPUs (simulated: no GPU here)."""

from __future__ import annotations

import pytest
import torch

from semcom.devices import device_slot, select_device
from semcom.errors import SemcomError


@pytest.fixture()
def four_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)


def test_submitit_local_jobs_do_not_all_land_on_gpu0(four_gpus):
    # submitit's local executor gives every job the same CUDA_VISIBLE_DEVICES and local id 0
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "SUBMITIT_LOCAL_LOCALID": "0", "SUBMITIT_LOCAL_NTASKS": "1"}
    devices = [select_device("auto", job_num=k, environ=env) for k in range(4)]
    assert [d.index for d in devices] == [0, 1, 2, 3]
    assert select_device("auto", job_num=5, environ=env).index == 1  # wraps around
    assert select_device("cuda", job_num=2, environ=env).index == 2


def test_several_tasks_per_node(four_gpus):
    # two tasks per job (SLURM without per-task binding): job 1's tasks take slots 2 and 3
    slots = [device_slot(job, {"SLURM_LOCALID": str(rank), "SLURM_NTASKS_PER_NODE": "2(x3)"}) for job in (0, 1) for rank in (0, 1)]
    assert slots == [0, 1, 2, 3]
    assert select_device("auto", 0, {"LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "4"}).index == 3  # torchrun
    assert select_device("auto", None, {}).index == 0  # a single run


def test_scheduler_bound_gpu_is_cuda0(monkeypatch):
    # SLURM with gpus_per_task binds one GPU per job: it is the only one visible, whatever the job number
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    env = {"CUDA_VISIBLE_DEVICES": "5", "SLURM_LOCALID": "0"}
    assert {select_device("auto", k, env).index for k in range(6)} == {0}


def test_explicit_and_cpu(four_gpus):
    assert select_device("cuda:3", job_num=0, environ={}).index == 3
    assert select_device("cpu", job_num=3, environ={}).type == "cpu"
    with pytest.raises(SemcomError, match="only 4 GPU"):
        select_device("cuda:7", environ={})
    with pytest.raises(SemcomError, match="not a torch device"):
        select_device("gpu0", environ={})


def test_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto", job_num=3, environ={"SUBMITIT_LOCAL_LOCALID": "1"}).type == "cpu"
    with pytest.raises(SemcomError, match="no CUDA GPU"):
        select_device("cuda", environ={})
