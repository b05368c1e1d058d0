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
from tqdm.auto import tqdm

from semcom.channels import build_channel
from semcom.conventions import parse_ratio, ratio_label
from semcom.errors import SemcomError
from semcom.devices import select_device
from semcom.jscc.training_data import CropSampler, load_folders
from semcom.jscc.evaluate import evaluate
from semcom.jscc.models import build_model, model_name, model_target, with_ratio

log = logging.getLogger("semcom.train")


def ratio_tag(ratio: float) -> str:
    """1/16 -> "1_16" (file and checkpoint names)."""
    f = Fraction(float(ratio)).limit_denominator(1000)
    return f"{f.numerator}_{f.denominator}"


def run_name(cfg: dict, model=None) -> str:
    """``name``, else ``<model>-<channel>-r<ratio>`` (``deepjscc-awgn-r1_16``)."""
    if cfg.get("name"):
        return str(cfg["name"])
    node = cfg["model"]
    short = model_name(model) if model is not None else node.get("name") or str(node.get("_target_", "model")).rsplit(".", 1)[-1].lower()
    return f"{short}-{cfg['channel']['name']}-r{ratio_tag(parse_ratio(cfg['ratio']))}"


def model_from_config(cfg: dict):
    """Build the model a training config describes: ``model.name`` (a registered model) or
    ``model._target_`` (any :class:`~semcom.jscc.base.JSCCModel` subclass) with its keyword
    arguments; the bandwidth ratio comes from ``cfg.ratio``."""
    node = {k: v for k, v in dict(cfg["model"]).items() if v is not None or k in ("name", "_target_")}
    params = {k: v for k, v in node.items() if k not in ("name", "_target_")}
    spec = {k: node[k] for k in ("name", "_target_") if node.get(k) is not None}
    if not spec:
        raise SemcomError("the training config names no model: give model=deepjscc|adjscc|swinjscc or model._target_=mypkg.MyJSCC")
    if "_target_" in spec:
        spec.pop("name", None)
    return build_model(spec, with_ratio(spec, params, parse_ratio(cfg["ratio"])))


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
    held = state.get("model_target") or state.get("model")
    if held not in (model_target(model), model_name(model)):
        raise SemcomError(f"init_from={path} holds a {state.get('model')} model, not {model_name(model)}: start from a {model_name(model)} checkpoint")
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
    """Train PSNR (interval means) and validation PSNR per SNR against the step (markers on the
    train curve while it has few points, so a short run still shows them)."""
    import matplotlib.pyplot as plt

    from semcom.report.style import OKABE_ITO, RC

    colours = [c for k, c in OKABE_ITO.items() if k not in ("black", "yellow")]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
        tr = [(int(r["step"]), float(r["train_psnr"])) for r in rows if r.get("train_psnr") not in (None, "")]
        if tr:
            ax.plot(*zip(*tr), color="0.55", lw=0.8, marker="." if len(tr) < 30 else None,
                    label="train crops (mean over interval)")
        for i, s in enumerate(val_snrs):
            key = f"val_psnr_snr{s:g}"
            pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
            if pts:
                ax.plot(*zip(*pts), marker="o", color=colours[i % len(colours)], label=f"validation, SNR {s:g} dB")
        ax.set_xlabel("training step")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(title)
        ax.grid(True, lw=0.3, alpha=0.5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False)
        fig.savefig(path, dpi=200)
        plt.close(fig)


class TrainingRun:
    """One training run (see the module docstring): its model, data, channel, optimiser and
    state; :meth:`resume_or_start`, then :meth:`loop`, which saves on every exit."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        if cfg.get("threads"):
            torch.set_num_threads(int(cfg["threads"]))
        self.device = select_device(cfg.get("device", "auto"))
        torch.manual_seed(int(cfg["seed"]))
        self.model = model_from_config(cfg).to(self.device)
        self.name = run_name(cfg, self.model)
        self.out = Path(cfg.get("out_root", "runs/train")) / self.name
        self.ckpt_path = self.out / "last.pt"
        lo, hi = (float(v) for v in cfg["snr_db_train"])
        if hi < lo:
            raise SemcomError(f"snr_db_train={cfg['snr_db_train']} must be [low, high] in dB")
        self.snr_range = (lo, hi)
        self.step, self.wall, self.last_val = 0, 0.0, None
        self.val_snrs = [float(s) for s in cfg.get("val_snr_db") or []]

    def finished(self) -> bool:
        """The run folder holds a checkpoint at ``steps`` or beyond already."""
        if not self.ckpt_path.is_file():
            return False
        return int(torch.load(self.ckpt_path, map_location="cpu", weights_only=False)["step"]) >= int(self.cfg["steps"])

    def setup(self) -> None:
        """Data, channel, optimiser, noise generator, mixed precision."""
        cfg, device = self.cfg, self.device
        self.sampler = CropSampler(list(cfg["data"]["train"]), int(cfg["crop"]), seed=int(cfg["seed"]))
        self.channel = build_channel(cfg["channel"]).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(cfg["lr"]))
        self.noise = torch.Generator(device=device).manual_seed(int(cfg["seed"]) + 1)
        self.val_items = [(n, img.float() / 255.0) for n, img in load_folders(list(cfg["data"].get("val") or []))]
        self.use_amp = bool(cfg.get("amp")) and device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if (self.use_amp and torch.cuda.is_bf16_supported()) else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)

    def resume_or_start(self) -> None:
        """Load ``last.pt`` when there is one (refusing another model's), else start (``init_from``)."""
        model = self.model
        if not self.ckpt_path.is_file():
            log.info("new run %s: %s %s, %d parameters, %d training images, device %s", self.name, model_target(model), model.config,
                     model.num_parameters(), len(self.sampler), self.device)
            if self.cfg.get("init_from"):
                loaded = init_from(model, str(self.cfg["init_from"]))
                log.info("initialised %d of %d tensors from %s", loaded, len(model.state_dict()), self.cfg["init_from"])
            return
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=False)
        if state["model"] != model_name(model) or state["model_config"] != model.config:
            raise SemcomError(
                f"{self.ckpt_path} holds a {state['model']} {state['model_config']}, not this config's {model_name(model)} {model.config}: "
                "give the run another name=..., or delete that folder"
            )
        model.load_state_dict(state["state_dict"])
        self.opt.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self.noise.set_state(state["noise"])
        torch.set_rng_state(state["torch_rng"])
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.wall, self.last_val = int(state["step"]), float(state["wall_s"]), state.get("last_val")
        log.info("resumed %s at step %d (%.0f s of training so far)", self.name, self.step, self.wall)

    def save(self, done: bool = False) -> None:
        """Write ``last.pt`` atomically: everything a resume needs, and what rebuilds the model."""
        device = self.device
        _atomic_save({
            "name": self.name,
            "model": model_name(self.model),
            "model_target": model_target(self.model),
            "model_config": self.model.config,
            "state_dict": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "sampler": self.sampler.state_dict(),
            "noise": self.noise.get_state(),
            "torch_rng": torch.get_rng_state(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "wall_s": self.wall,
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "train_config": self.cfg,
            "train_images": len(self.sampler),
            "last_val": self.last_val,
            "done": done,
        }, self.ckpt_path)

    def validate(self) -> dict:
        """Mean 8-bit PSNR on the validation images at every validation SNR (curve columns)."""
        res = evaluate(self.model, self.val_items, self.val_snrs, self.channel, None, int(self.cfg["seed"]), self.device)
        self.model.train()
        self.last_val = {f"{s:g}": round(res[s], 3) for s in self.val_snrs}
        return {f"val_psnr_snr{s:g}": f"{res[s]:.3f}" for s in self.val_snrs}

    def train_step(self) -> tuple[float, float, float]:
        """One optimiser step; returns (learning rate, loss, mean train PSNR of the batch)."""
        cfg, sampler, device = self.cfg, self.sampler, self.device
        lr = lr_at(self.step, cfg)
        for group in self.opt.param_groups:
            group["lr"] = lr
        bs = int(cfg["batch_size"])
        x = sampler.sample(bs).to(device, non_blocking=True)
        lo, hi = self.snr_range
        snr = (lo + (hi - lo) * torch.rand(bs, generator=sampler.generator)).to(device)
        ratios = self.model.ratios
        ratio = ratios[int(torch.randint(len(ratios), (1,), generator=sampler.generator))] if len(ratios) > 1 else None
        with torch.autocast(device_type=device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            rec, _ = self.model(x, self.channel, snr, self.noise, ratio)
        rec = rec.float()
        mse = (rec - x).square().flatten(1).mean(1)
        loss = ms_ssim_loss(x, rec) if cfg.get("loss", "mse") == "ms_ssim" else mse.mean()
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.get("grad_clip"):
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(cfg["grad_clip"]))
        self.scaler.step(self.opt)
        self.scaler.update()
        self.step += 1
        return lr, float(loss.detach()), float((10 * torch.log10(1.0 / mse.detach().clamp_min(1e-10))).mean())

    def loop(self, stop: "_Stop") -> None:
        """Train until ``steps`` or a stop signal: curve rows, validations, checkpoints, figure."""
        cfg = self.cfg
        steps, log_every = int(cfg["steps"]), int(cfg.get("log_every", 25))
        ckpt_every, eval_every = int(cfg.get("ckpt_every", 100)), int(cfg.get("eval_every", 500))
        rows = _read_curve(self.out / "curve.csv", self.step)
        args = ", ".join(f"{k} {ratio_label(v) if k == 'ratio' else v}" for k, v in self.model.config.items())
        title = f"{self.name}: {model_name(self.model)} ({args})"
        self.model.train()
        acc = [0.0, 0.0, 0]
        bar = tqdm(total=steps, initial=self.step, desc=self.name, unit="step", dynamic_ncols=True, disable=not cfg.get("progress", True),
                   mininterval=1.0 if sys.stderr.isatty() else 60.0)
        try:
            while self.step < steps and not stop.flag:
                t0 = time.time()
                lr, loss, psnr = self.train_step()
                self.wall += time.time() - t0
                acc = [acc[0] + loss, acc[1] + psnr, acc[2] + 1]
                bar.update(1)
                row = None
                if self.step % log_every == 0 or self.step == steps:
                    row = {"step": self.step, "wall_s": f"{self.wall:.1f}", "lr": f"{lr:.3g}", "loss": f"{acc[0] / acc[2]:.6f}",
                           "train_psnr": f"{acc[1] / acc[2]:.3f}"}
                    bar.set_postfix(loss=f"{acc[0] / acc[2]:.5f}", psnr=f"{acc[1] / acc[2]:.2f}")
                    acc = [0.0, 0.0, 0]
                if self.val_items and self.val_snrs and (self.step % eval_every == 0 or self.step == steps):
                    row = row or {"step": self.step, "wall_s": f"{self.wall:.1f}", "lr": f"{lr:.3g}"}
                    row.update(self.validate())
                    log.info("step %d: validation PSNR %s (wall %.0f s)", self.step, self.last_val, self.wall)
                if row is not None:
                    rows.append(row)
                    _write_curve(self.out / "curve.csv", rows, self.val_snrs)
                    if "train_psnr" in row:
                        log.info("step %d lr %s loss %s train PSNR %s", self.step, row["lr"], row["loss"], row["train_psnr"])
                evaluated = row is not None and any(k.startswith("val_") for k in row)
                if self.step % ckpt_every == 0 or evaluated:
                    self.save()
                if evaluated:
                    plot_curve(rows, self.val_snrs, self.out / "curve.png", title)
        finally:
            bar.close()
            self.save(done=self.step >= steps)
            _write_curve(self.out / "curve.csv", rows, self.val_snrs)
            plot_curve(rows, self.val_snrs, self.out / "curve.png", title)


def train(cfg: dict) -> Path:
    """Run (or resume) one training run; return its folder."""
    run = TrainingRun(cfg)
    if run.finished():
        print(f"{run.name} already trained for {cfg['steps']} steps or more (steps={cfg['steps']}): nothing to do", file=sys.stderr)
        return run.out
    run.setup()
    run.out.mkdir(parents=True, exist_ok=True)
    logfile = logging.FileHandler(run.out / "train.log")
    logfile.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(logfile)
    log.setLevel(logging.INFO)
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        run.resume_or_start()
        run.loop(stop)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        log.removeHandler(logfile)
        logfile.close()
    if stop.flag:
        log.warning("interrupted at step %d: checkpoint saved; run the same command again to resume", run.step)
        print(f"interrupted at step {run.step}; checkpoint {run.ckpt_path}; rerun the same command to resume", file=sys.stderr)
    else:
        log.info("finished %s: %d steps, %.0f s", run.name, run.step, run.wall)
    return run.out
