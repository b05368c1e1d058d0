"""Hydra entry point: ``python -m semcom.train model=adjscc ratio=1/16 channel=awgn``.

Trains (or resumes) one JSCC model; the config is ``semcom/conf/train.yaml`` with the groups
``model/`` (deepjscc, adjscc, swinjscc, a plugin's name, or ``model._target_=mypkg.MyJSCC`` for any
:class:`~semcom.jscc.base.JSCCModel` subclass) and ``channel/`` (awgn, rayleigh_block, ...). See
:mod:`semcom.jscc.training` for what a run writes and how it resumes.
``python -m semcom.train --cfg job model=swinjscc`` prints the composed config.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from semcom.errors import SemcomError


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def _train(cfg: DictConfig) -> None:
    from semcom.jscc.training import train

    try:
        out = train(OmegaConf.to_container(cfg, resolve=True))
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    print(f"run folder: {out}")


def main() -> None:
    from semcom.runner.config import expand_targets, register_plugin_configs

    try:
        register_plugin_configs()
        sys.argv[1:] = expand_targets(sys.argv[1:])
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    _train()


if __name__ == "__main__":
    main()
