"""Whether a sweep's carries fit in memory, checked before anything is compiled.

A batch of ``settings x seeds`` runs holds one carry per run on the devices for the whole run.
:func:`check` sizes one run's carry from the shapes ``init`` makes (traced by
``jax.eval_shape``, not compiled) and refuses, in one line naming ``config.num_seeds`` and the
largest count that fits, a batch whose carries would take more than half of the memory it has:
an accelerator's own memory per device (``Device.memory_stats()``), or the host's available
memory for CPU devices, which share it. Half, because a chunk computes a new carry beside the old
one (its input is donated, but XLA needs room for what it computes). The carry is a lower
bound of what a run needs: a batch that passes may still run out of memory in a chunk's
temporaries, but a sweep a thousand times too large is refused at once instead of after a long
compile.
"""

from __future__ import annotations

import math
import os

import jax
import numpy as np

from jaxrl.run.experiment import ConfigError, Experiment

FRACTION = 0.5  # of the memory the carries may take


def carry_bytes(experiment: Experiment, hparams) -> int:
    """The bytes of one run's carry (``hparams``: leaves ``[settings]``; the first is used)."""
    one = jax.tree.map(lambda x: np.asarray(x)[0], hparams)
    shapes = jax.eval_shape(experiment.init, jax.random.key(0), one)
    leaves = jax.tree.leaves(shapes)
    return int(sum(math.prod(s.shape) * np.dtype(s.dtype).itemsize for s in leaves))


def host_available_bytes() -> int | None:
    """The host memory available to new allocations (Linux's ``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _memory(devices) -> tuple[int | None, int, str]:
    """``(bytes, runs sharing them per unit of batch, what)`` for the devices of this process."""
    local = [d for d in devices if d.process_index == jax.process_index()] or list(devices)
    if all(d.platform == "cpu" for d in local):
        return host_available_bytes(), len(local), "host memory available"
    stats = local[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    return (None if limit is None else int(limit)), 1, f"memory of each {local[0].platform} device"


def _size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def check(experiment: Experiment, hparams, num_seeds: int, devices) -> None:
    """Raises :class:`ConfigError` (one line) if the batch's carries would not fit (module
    docstring); does nothing when the memory is unknown."""
    num_settings = int(np.shape(jax.tree.leaves(hparams)[0])[0])
    per_run = carry_bytes(experiment, hparams)
    memory, sharing, what = _memory(devices)
    if memory is None or per_run == 0:
        return
    runs_per_device = -(-num_settings * num_seeds // len(devices))  # the batch is sharded evenly
    local_runs = runs_per_device * sharing  # on one accelerator, or on the host's CPU devices
    need = local_runs * per_run
    if need <= FRACTION * memory:
        return
    fit = int(FRACTION * memory // per_run) * len(devices) // sharing // num_settings
    raise ConfigError(
        f"config.num_seeds = {num_seeds} is too many for this machine: the carries of "
        f"{num_settings} settings x {num_seeds} seeds take about {_size(need)} here "
        f"({_size(per_run)} a run), more than half of the {_size(memory)} of {what}; about "
        f"{fit} seeds fit (a chunk needs room for a second carry)"
    )
