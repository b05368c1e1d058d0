"""Training loop of the JSCC models (Hydra-free; ``python -m semcom.train`` is the entry point).

One run lives in ``<out_root>/<name>/`` (default name ``<model>-<channel>-r<ratio>``, e.g.
``runs/train/adjscc-awgn-r1_16``):

| file | content |
|---|---|
| ``last.pt`` | model, optimiser, step, wall time, every random-generator state, the full config; written atomically every ``ckpt_every`` steps, at evaluations, on SIGTERM/SIGINT and at the end |
| ``curve.csv`` | step, wall_s, lr, loss, train_psnr (interval means), val_psnr_snr<k> at evaluations |
| ``curve.png`` | the learning curve (train PSNR and validation PSNR per SNR vs step) |
| ``train.log`` | one line per log interval and evaluation |

Running the same command again resumes from ``last.pt`` (steps already done are not repeated;
the curve is cut back to the checkpoint's step). A finished run returns at once; raising
``steps`` continues it. Each step: a batch of random crops with flips, an SNR per image drawn
uniformly from ``snr_db_train`` (and, for rate-adaptive models, a ratio per batch from the
model's ratios), encoder -> the semcom channel -> zero-forcing -> decoder, MSE (or 1 - MS-SSIM)
loss, Adam. The learning rate is ``lr`` (after ``warmup_steps``) until ``decay_start`` x steps,
then a cosine to ``lr_final`` at ``steps``: a pure function of the step, so resuming changes
nothing. ``init_from`` starts a new run from another checkpoint's matching tensors. On CUDA, ``amp`` runs the networks in bfloat16 autocast (float16 with a gradient scaler
where bf16 is unsupported); power normalisation, the channel and GDN stay in float32.
Validation: mean 8-bit PSNR on ``data.val`` (CSet5 by default, never trained on) at
``val_snr_db`` with the runner's per-image seeds. Kodak is kept for the final test only.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from semcom.channels import build_channel
from semcom.conventions import parse_ratio
from semcom.errors import SemcomError
from semcom.runner.job import resolve_device
from semcom.jscc.training_data import CropSampler, load_folders
from semcom.jscc.evaluate import evaluate
from semcom.jscc.models import build_model

log = logging.getLogger("semcom.train")


def ratio_tag(ratio: float) -> str:
    """1/16 -> "1_16" (file and checkpoint names)."""
    f = Fraction(float(ratio)).limit_denominator(1000)
    return f"{f.numerator}_{f.denominator}"


def run_name(cfg: dict) -> str:
    if cfg.get("name"):
        return str(cfg["name"])
    return f"{cfg['model']['name']}-{cfg['channel']['name']}-r{ratio_tag(parse_ratio(cfg['ratio']))}"


def model_from_config(cfg: dict):
    """Build the model a training config describes (the ratio comes from ``cfg.ratio``)."""
    ratio = parse_ratio(cfg["ratio"])
    params = dict(cfg["model"])
    name = params.pop("name")
    if name == "swinjscc":
        ratios = params.pop("ratios", None) or [ratio]
        ratios = [parse_ratio(r) for r in ratios]
        if not any(abs(r - ratio) < 1e-9 for r in ratios):
            ratios.append(ratio)
        params["ratios"] = ratios
    else:
        params.pop("ratios", None)
        params["ratio"] = ratio
    return build_model(name, params)


def lr_at(step: int, cfg: dict) -> float:
    """Learning rate at ``step`` (0-based): warm-up, constant, cosine decay to ``lr_final``."""
    lr, lr_final, steps = float(cfg["lr"]), float(cfg["lr_final"]), int(cfg["steps"])
    warm = int(cfg.get("warmup_steps") or 0)
    if warm and step < warm:
        return lr * (step + 1) / warm
    start = int(float(cfg.get("decay_start", 0.7)) * steps)
    if step < start or steps <= start:
        return lr
    t = min(1.0, (step - start) / (steps - start))
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * t))


def ms_ssim_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM (pytorch_msssim, data range 1). pytorch_msssim needs the shorter side >
    (win - 1) * 16: crops of 160 px or less use the largest odd window that fits (7 at 128 px)."""
    from pytorch_msssim import ms_ssim

    side = min(x.shape[-2:])
    win = 11
    while win > 3 and side <= (win - 1) * 16:
        win -= 2
    return 1.0 - ms_ssim(x.float(), y.float(), data_range=1.0, win_size=win)


def init_from(model, path: str) -> int:
    """Copy every tensor of a checkpoint (training run or exported) whose name and shape match
    ``model``'s into it (e.g. a Rayleigh run started from the AWGN model, or a 1/6 model from
    the 1/16 one, whose last encoder / first decoder layers then stay freshly initialised).
    Returns the number of tensors copied; SemcomError if the architectures differ."""
    from semcom.jscc.checkpoints import resolve_checkpoint

    p = Path(path)
    state = torch.load(p if p.is_file() else resolve_checkpoint(path), map_location="cpu", weights_only=False)
    if state.get("model") != model.name:
        raise SemcomError(f"init_from={path} holds a {state.get('model')} model, not {model.name}: start from a {model.name} checkpoint")
    own = model.state_dict()
    match = {k: v for k, v in state["state_dict"].items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(match, strict=False)
    return len(match)


class _Stop:
    """Set by SIGTERM/SIGINT: the loop saves a checkpoint and exits."""

    def __init__(self):
        self.flag = False

    def __call__(self, signum, frame):
        self.flag = True


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


CURVE_FIELDS = ["step", "wall_s", "lr", "loss", "train_psnr"]


def _read_curve(path: Path, upto: int) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["step"]) <= upto]


def _write_curve(path: Path, rows: list[dict], val_snrs) -> None:
    fields = CURVE_FIELDS + [f"val_psnr_snr{s:g}" for s in val_snrs]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def plot_curve(rows: list[dict], val_snrs, path: Path, title: str) -> None:
    """Train PSNR (interval means) and validation PSNR per SNR against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    tr = [(int(r["step"]), float(r["train_psnr"])) for r in rows if r.get("train_psnr") not in (None, "")]
    if tr:
        ax.plot(*zip(*tr), color="0.6", lw=0.8, label="train crops (mean over interval)")
    for s in val_snrs:
        key = f"val_psnr_snr{s:g}"
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"validation, SNR {s:g} dB")
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train(cfg: dict) -> Path:
    """Run (or resume) one training run; return its folder."""
    threads = cfg.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    device = resolve_device(cfg.get("device", "auto"))
    torch.manual_seed(int(cfg["seed"]))
    model = model_from_config(cfg).to(device)
    name = run_name(cfg)
    out = Path(cfg.get("out_root", "runs/train")) / name
    ckpt_path = out / "last.pt"
    if ckpt_path.is_file():
        done_steps = int(torch.load(ckpt_path, map_location="cpu", weights_only=False)["step"])
        if done_steps >= int(cfg["steps"]):
            print(f"{name} already trained for {done_steps} steps (steps={cfg['steps']}): nothing to do", file=sys.stderr)
            return out
    sampler = CropSampler(list(cfg["data"]["train"]), int(cfg["crop"]), seed=int(cfg["seed"]))
    out.mkdir(parents=True, exist_ok=True)
    logfile = logging.FileHandler(out / "train.log")
    logfile.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(logfile)
    log.setLevel(logging.INFO)

    channel = build_channel(cfg["channel"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    noise = torch.Generator(device=device).manual_seed(int(cfg["seed"]) + 1)
    val_items = [(n, img.float() / 255.0) for n, img in load_folders(list(cfg["data"].get("val") or []))]
    val_snrs = [float(s) for s in cfg.get("val_snr_db") or []]
    lo, hi = (float(v) for v in cfg["snr_db_train"])
    if hi < lo:
        raise SemcomError(f"snr_db_train={cfg['snr_db_train']} must be [low, high] in dB")
    use_amp = bool(cfg.get("amp")) and device.type == "cuda"
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    step, wall, last_val = 0, 0.0, None
    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state["model"] != model.name or state["model_config"] != model.config:
            raise SemcomError(
                f"{ckpt_path} holds a {state['model']} {state['model_config']}, not this config's {model.name} {model.config}: "
                "give the run another name=..., or delete that folder"
            )
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        noise.set_state(state["noise"])
        torch.set_rng_state(state["torch_rng"])
        if "scaler" in state and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        step, wall, last_val = int(state["step"]), float(state["wall_s"]), state.get("last_val")
        log.info("resumed %s at step %d (%.0f s of training so far)", name, step, wall)
    else:
        log.info("new run %s: %s %s, %d parameters, %d training images, device %s", name, model.name, model.config, model.num_parameters(), len(sampler), device)
        if cfg.get("init_from"):
            loaded = init_from(model, str(cfg["init_from"]))
            log.info("initialised %d of %d tensors from %s", loaded, len(model.state_dict()), cfg["init_from"])
    rows = _read_curve(out / "curve.csv", step)

    def save(done: bool = False) -> None:
        _atomic_save(
            {
                "model": model.name,
                "model_config": model.config,
                "state_dict": model.state_dict(),
                "optimizer": opt.state_dict(),
                "sampler": sampler.state_dict(),
                "noise": noise.get_state(),
                "torch_rng": torch.get_rng_state(),
                "scaler": scaler.state_dict(),
                "step": step,
                "wall_s": wall,
                "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
                "train_config": cfg,
                "train_images": len(sampler),
                "last_val": last_val,
                "done": done,
            },
            ckpt_path,
        )

    def validate() -> dict:
        nonlocal last_val
        res = evaluate(model, val_items, val_snrs, channel, None, int(cfg["seed"]), "val", device)
        model.train()
        last_val = {f"{s:g}": round(res[s], 3) for s in val_snrs}
        return {f"val_psnr_snr{s:g}": f"{res[s]:.3f}" for s in val_snrs}

    steps = int(cfg["steps"])
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    bs, log_every = int(cfg["batch_size"]), int(cfg.get("log_every", 25))
    ckpt_every, eval_every = int(cfg.get("ckpt_every", 100)), int(cfg.get("eval_every", 500))
    clip = cfg.get("grad_clip")
    model.train()
    acc_loss, acc_psnr, acc_n = 0.0, 0.0, 0
    bar = tqdm(total=steps, initial=step, desc=name, unit="step", dynamic_ncols=True, disable=not cfg.get("progress", True), mininterval=1.0 if sys.stderr.isatty() else 60.0)
    try:
        while step < steps and not stop.flag:
            t0 = time.time()
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            x = sampler.sample(bs).to(device, non_blocking=True)
            snr = (lo + (hi - lo) * torch.rand(bs, generator=sampler.generator)).to(device)
            ratio = model.ratios[int(torch.randint(len(model.ratios), (1,), generator=sampler.generator))] if len(model.ratios) > 1 else None
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                rec, _ = model(x, channel, snr, noise, ratio)
            rec = rec.float()
            mse = (rec - x).square().flatten(1).mean(1)
            loss = ms_ssim_loss(x, rec) if cfg.get("loss", "mse") == "ms_ssim" else mse.mean()
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip))
            scaler.step(opt)
            scaler.update()
            step += 1
            wall += time.time() - t0
            acc_loss += float(loss.detach())
            acc_psnr += float((10 * torch.log10(1.0 / mse.detach().clamp_min(1e-10))).mean())
            acc_n += 1
            bar.update(1)
            row = None
            if step % log_every == 0 or step == steps:
                row = {"step": step, "wall_s": f"{wall:.1f}", "lr": f"{lr:.3g}", "loss": f"{acc_loss / acc_n:.6f}", "train_psnr": f"{acc_psnr / acc_n:.3f}"}
                bar.set_postfix(loss=f"{acc_loss / acc_n:.5f}", psnr=f"{acc_psnr / acc_n:.2f}")
                acc_loss, acc_psnr, acc_n = 0.0, 0.0, 0
            if val_items and val_snrs and (step % eval_every == 0 or step == steps):
                row = row or {"step": step, "wall_s": f"{wall:.1f}", "lr": f"{lr:.3g}"}
                row.update(validate())
                log.info("step %d: validation PSNR %s (wall %.0f s)", step, last_val, wall)
            if row is not None:
                rows.append(row)
                _write_curve(out / "curve.csv", rows, val_snrs)
                if "train_psnr" in row:
                    log.info("step %d lr %s loss %s train PSNR %s", step, row["lr"], row["loss"], row["train_psnr"])
            evaluated = row is not None and any(k.startswith("val_") for k in row)
            if step % ckpt_every == 0 or evaluated:
                save()
            if evaluated:
                plot_curve(rows, val_snrs, out / "curve.png", f"{name}: {model.name} {model.config}")
    finally:
        bar.close()
        save(done=step >= steps)
        _write_curve(out / "curve.csv", rows, val_snrs)
        plot_curve(rows, val_snrs, out / "curve.png", f"{name}: {model.name} {model.config}")
        for s, h in old.items():
            signal.signal(s, h)
        log.removeHandler(logfile)
        logfile.close()
    if stop.flag:
        log.warning("interrupted at step %d: checkpoint saved; run the same command again to resume", step)
        print(f"interrupted at step {step}; checkpoint {ckpt_path}; rerun the same command to resume", file=sys.stderr)
    else:
        log.info("finished %s: %d steps, %.0f s", name, step, wall)
    return out
