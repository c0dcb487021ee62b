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
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from jaxrl.run.workdir import TENSORBOARD_DIR


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
        for name, summary in per_setting.items():
            for h, label in enumerate(labels):
                for key in ("mean", "ci_low", "ci_high"):
                    value = float(np.asarray(summary[key])[h])
                    if math.isfinite(value):
                        self.writer.add_scalar(f"{name}/{label}/{key}", value, env_steps)
        if math.isfinite(rate):
            self.writer.add_scalar("throughput/env_steps_per_s", rate, env_steps)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
