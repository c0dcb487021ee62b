"""TensorBoard event files of a run, written as it goes (``tensorboard --logdir WORKDIR``).

The runner writes, after every chunk, the same numbers as that chunk's rows of ``metrics.csv``:
for each metric and setting the mean over seeds and the two edges of its 95% interval, as the
scalars ``METRIC/LABEL/mean``, ``METRIC/LABEL/ci_low`` and ``METRIC/LABEL/ci_high`` (``LABEL``
the setting's label, ``default`` for a run without a sweep, each character outside letters,
digits and ``_-./`` made ``_`` by tensorboardX: ``learning_rate_0.1``), and the throughput of
the chunk loop so far, ``throughput/env_steps_per_s``; the step axis is the environment steps
per seed, as in ``curves.png``. A metric that is NaN for a setting (no episode ended yet) is
left out of that chunk. The events go to ``WORKDIR/tensorboard`` and are flushed after every
chunk, so TensorBoard shows the curves while the run goes on. A resumed run recomputes the
chunks after its checkpoint and writes them again: TensorBoard drops what the interrupted
session wrote from that step on.

The writer is tensorboardX's ``SummaryWriter``, which writes TensorBoard's event files without
TensorFlow (BUILD-notes.md says why).

Weights & Biases, optional (``pip install 'jaxrl[tracking]'``; the launcher's ``--wandb``):
:class:`Wandb` logs the same scalars under the same names, against the metric ``env_steps``
(W&B's x-axis for all of them), with the run's config. One W&B run per work directory: its id
is kept in ``WORKDIR/wandb_id``, so a resumed or extended run continues the same W&B run (the
chunks recomputed after the checkpoint are logged again at their own ``env_steps``).
``WANDB_MODE=offline`` works without a network (``wandb sync`` uploads later); W&B's own files
go under ``WORKDIR/wandb``.
"""

from __future__ import annotations

import math
import os
import secrets
import time

import numpy as np

from jaxrl.run.experiment import ConfigError
from jaxrl.run.workdir import TENSORBOARD_DIR, WANDB_DIR, WANDB_ID_FILE, atomic_write

WANDB_EXTRA = "pip install 'jaxrl[tracking]'"


class TensorBoard:
    """Event files for one run's chunks (process 0 only)."""

    def __init__(self, workdir: str, *, first_step: int):
        """``first_step``: the step of the first chunk this session writes. TensorBoard drops
        any events at it and after it that an interrupted session left (its ``purge_step``)."""
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(
            os.path.join(workdir, TENSORBOARD_DIR),
            purge_step=first_step,
            # One file per session, in order, even for two sessions within a second (the name
            # has the time in seconds, and a second writer of one name would truncate the first).
            filename_suffix=f".{time.time_ns()}.{os.getpid()}",
        )

    def chunk(self, env_steps: int, labels, per_setting: dict, rate: float) -> None:
        """Writes one chunk: ``per_setting[metric]`` holds ``mean``, ``ci_low`` and ``ci_high``
        arrays ``[settings]`` (``jaxrl.run.stats.summarize``)."""
        for tag, value in scalars(labels, per_setting, rate).items():
            self.writer.add_scalar(tag, value, env_steps)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def scalars(labels, per_setting: dict, rate: float) -> dict[str, float]:
    """One chunk's scalars by tag: ``METRIC/LABEL/{mean,ci_low,ci_high}`` and
    ``throughput/env_steps_per_s``, the values that are not finite left out."""
    out = {}
    for name, summary in per_setting.items():
        for h, label in enumerate(labels):
            for key in ("mean", "ci_low", "ci_high"):
                value = float(np.asarray(summary[key])[h])
                if math.isfinite(value):
                    out[f"{name}/{label}/{key}"] = value
    if math.isfinite(rate):
        out["throughput/env_steps_per_s"] = rate
    return out


class Wandb:
    """A W&B run for one work directory (process 0 only); ``make`` it with :meth:`factory` for
    ``jaxrl.run.run(trackers=...)``, which starts it before the compile."""

    def __init__(self, workdir: str, config: dict, *, project: str, entity=None, name=None):
        try:
            import wandb
        except ModuleNotFoundError:
            raise ConfigError(f"--wandb needs the wandb package: {WANDB_EXTRA}") from None
        id_path = os.path.join(workdir, WANDB_ID_FILE)
        if os.path.exists(id_path):
            with open(id_path) as f:
                run_id = f.read().strip()
        else:
            run_id = secrets.token_hex(6)  # W&B takes ids of letters and digits
            atomic_write(id_path, run_id.encode())
        os.makedirs(os.path.join(workdir, WANDB_DIR), exist_ok=True)
        try:
            self.run = wandb.init(
                project=project,
                entity=entity,
                name=name or os.path.basename(os.path.abspath(workdir)),
                id=run_id,
                resume="allow",
                config=config,
                dir=workdir,
            )
        except Exception as e:  # noqa: BLE001 (no login, no network, a bad project: one line)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(
                f"W&B could not start a run ({first}); log in with `wandb login` or set "
                f"WANDB_API_KEY, or run without a network with WANDB_MODE=offline"
            ) from None
        self.run.define_metric("env_steps")
        self.run.define_metric("*", step_metric="env_steps")

    @classmethod
    def factory(cls, *, project: str, entity=None, name=None):
        """``make(workdir, config) -> Wandb``, for ``run.run(trackers=[...])``."""
        return lambda workdir, config: cls(
            workdir, config, project=project, entity=entity, name=name
        )

    def chunk(self, env_steps: int, labels, per_setting: dict, rate: float) -> None:
        self.run.log({"env_steps": env_steps, **scalars(labels, per_setting, rate)})

    def close(self) -> None:
        self.run.finish()
