"""Flag-free helpers for the binaries: the CPU device layout and multi-process start-up.

Kept out of the library on purpose: these read the environment (``XLA_FLAGS``, the CPU count) and
must run before JAX starts its backends, which only a binary's ``main`` controls.
"""

from __future__ import annotations

import os

DEVICE_COUNT_FLAG = "xla_force_host_platform_device_count"
# How long the other processes of a multi-process run wait for a silent one before the
# coordination service declares it dead (they then stop with an error rather than hang).
HEARTBEAT_TIMEOUT_S = 60
INITIALIZATION_TIMEOUT_S = 120


def cpu_core_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_cpu_devices(requested: int | None) -> str:
    """Before JAX starts: one CPU host device per core (or ``requested`` of them).

    XLA's CPU backend runs one computation per device on its own thread pool share, so sharding
    the batch of seeds over one host device per core uses every core. Left alone when the user
    set the device count in ``XLA_FLAGS``. Returns a one-line description of what was done.
    """
    import jax

    if DEVICE_COUNT_FLAG in os.environ.get("XLA_FLAGS", ""):
        return "CPU device count from XLA_FLAGS"
    count = cpu_core_count() if requested is None else int(requested)
    if count < 1:
        raise ValueError(f"--cpu_devices must be a positive integer, got {requested}")
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # a backend already started (e.g. in an interactive session)
        return "CPU device count left as it was (JAX had already started)"
    return f"{count} CPU device(s)"


def initialize_distributed(coordinator_address: str, num_processes: int, process_id: int) -> None:
    """``jax.distributed.initialize`` with timeouts suited to a run that must not hang.

    On the CPU the processes' collectives go through gloo (JAX's default). A process that dies
    makes the others' next collective fail at once (its connections close); one stuck elsewhere
    is declared dead after ``HEARTBEAT_TIMEOUT_S``.
    """
    import jax

    if num_processes is None or process_id is None:
        raise ValueError("--coordinator_address needs --num_processes and --process_id")
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(
            f"--process_id must be in [0, --num_processes) = [0, {num_processes}), got {process_id}"
        )
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=INITIALIZATION_TIMEOUT_S,
            heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
        )
    except RuntimeError as e:  # e.g. the coordinator cannot be reached within the timeout
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"process {process_id} could not join the run at --coordinator_address="
            f"{coordinator_address} ({first_line})"
        ) from None


def choose_devices(batch: int) -> tuple[list, str | None]:
    """The devices to shard a batch of ``batch`` runs over, and a note when not all are used.

    Every process contributes the same number ``d`` of its local devices, the largest for which
    ``batch`` is a multiple of ``d * process_count`` with at least two runs per device (see
    ``jaxrl.run.core.MIN_PER_DEVICE``); a note says so when ``d`` is smaller than the local
    device count. Raises ``ValueError`` when the batch does not even split over the
    processes.
    """
    import jax

    from jaxrl.run.core import MIN_PER_DEVICE, padded_size

    processes = jax.process_count()
    local = len(jax.local_devices())
    padded = padded_size(batch)
    usable = [
        d
        for d in range(local, 0, -1)
        if padded % (d * processes) == 0 and padded // (d * processes) >= MIN_PER_DEVICE
    ]
    if not usable:
        raise ValueError(
            f"the batch of {batch} runs (settings x seeds) must be a multiple of the process "
            f"count ({processes}), with at least {MIN_PER_DEVICE} runs per process; change "
            f"config.num_seeds"
        )
    per_process = usable[0]
    by_process: dict[int, list] = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    devices = [d for p in sorted(by_process) for d in by_process[p][:per_process]]
    note = None
    if per_process < local:
        note = (
            f"note: using {per_process} of {local} {devices[0].platform} devices per process, the "
            f"largest count that divides the batch of {batch} runs evenly"
        )
    return devices, note
