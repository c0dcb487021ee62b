"""The in-memory core of the runner: one compiled ``jit(vmap(...))`` over settings x seeds.

:func:`train` is what a notebook, a test or a benchmark calls: it runs an experiment for a number
of chunks and returns the final carry and the per-chunk metrics, nothing written to disk.
:func:`jaxrl.run.run` is this core plus files, checkpoints and resume. Both go through
:class:`Program`, so a run and the core give the same numbers bit for bit.

The batch axis is ``settings x seeds`` flattened: item ``h * num_seeds + i`` is setting ``h``,
seed ``i``. It is sharded over the given devices with a 1-D ``Mesh`` and ``NamedSharding``; in a
multi-process run each process builds only its own shard of the keys and hyperparameters
(``jax.make_array_from_callback``) and the metrics are gathered to every process.

A sweep of several settings initialises with ``vmap`` over settings of ``vmap`` over seeds, the
key unbatched along the settings (:func:`seed_shared_init`): what ``init`` computes from the key
alone (sampled data, network initialisations) is computed once per seed, not once per setting,
and equals what the flat batch computes, bit for bit.
"""

from __future__ import annotations

import re
import time
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl.run.experiment import ConfigError, Experiment, check_experiment


class DivergenceError(RuntimeError):
    """Training produced a non-finite metric (or an infinite one among the may-be-NaN ones)."""


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
        carry: the final carry; every leaf has leading axes ``[settings, seeds]``.
        metrics: ``{name: [chunks, settings, seeds]}`` NumPy arrays, in ``experiment.metrics``
            order.
    """

    carry: Any
    metrics: dict[str, np.ndarray]


def _global_array(values: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A sharded global array from host values; each process materializes only its shards."""
    values = np.asarray(values)
    return jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])


def gather(tree) -> Any:
    """Device arrays to NumPy here (gathered from every process when there are several)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
    return jax.tree.map(np.asarray, jax.device_get(tree))


def check_hparams(experiment: Experiment, hparams) -> int:
    """Checks stacked hyperparameters (``[H]`` leaves) against the domains; returns ``H``.

    Raises :class:`ConfigError` naming the field and the setting for a value outside its domain
    (the values as the leaves hold them, e.g. float32).
    """
    check_experiment(experiment)
    sizes = {name: np.shape(leaf) for name, leaf in zip(hparams._fields, hparams, strict=True)}
    if any(len(shape) != 1 for shape in sizes.values()) or len(set(sizes.values())) != 1:
        raise ConfigError(f"hparams leaves must all have one shape [settings], got {sizes}")
    for name, leaf in zip(hparams._fields, hparams, strict=True):
        domain = experiment.domains[name]
        for h, value in enumerate(np.asarray(leaf).tolist()):
            if not domain.contains(float(value)):
                raise ConfigError(
                    f"hparams.{name} = {value:g} in setting {h} is outside its domain: it must "
                    f"be {domain}"
                )
    return next(iter(sizes.values()))[0]


# Each device runs at least this many runs. XLA compiles a vmapped program of batch one to
# different code (size-one dimensions are folded away, and operations fuse differently), so a
# seed run alone would differ from the same seed in a sweep in the last bits (measured: Q-table
# entries 2e-6 apart after 300k Q-learning steps); from two runs on, the code is the same.
MIN_PER_DEVICE = 2


def padded_size(batch: int) -> int:
    """The batch a program computes: a batch of one is padded with a copy (thrown away)."""
    return max(batch, MIN_PER_DEVICE)


def batch_inputs(hparams, keys: jax.Array):
    """The flat batch's host inputs: ``(key_data [B, ...], hparams with [B] leaves, init_one)``,
    ``B = padded_size(S * N)``, item ``h * N + i`` being setting ``h`` and seed ``i`` (and a batch
    of one followed by a copy of itself); ``init_one(data, h)`` is the experiment's ``init`` on
    raw key data (typed keys cannot cross the host boundary)."""
    num_settings = int(np.shape(jax.tree.leaves(hparams)[0])[0])
    num_seeds = int(keys.shape[0])
    impl = jax.random.key_impl(keys)
    key_data = np.tile(np.asarray(jax.random.key_data(keys)), (num_settings, 1))
    flat = jax.tree.map(lambda x: np.repeat(np.asarray(x), num_seeds, axis=0), hparams)
    extra = padded_size(num_settings * num_seeds) - num_settings * num_seeds
    if extra:
        key_data = np.concatenate([key_data] + [key_data[-1:]] * extra)
        flat = jax.tree.map(lambda x: np.concatenate([x] + [x[-1:]] * extra), flat)

    def wrap(init):
        return lambda data, h: init(jax.random.wrap_key_data(data, impl=impl), h)

    return key_data, flat, wrap


def seed_inputs(hparams, keys: jax.Array):
    """:func:`seed_shared_init`'s host inputs: the seeds' raw key data ``[N', ...]`` and the
    settings' hyperparameters ``[S', ...]``, each padded to at least two with a copy of its last
    (a vmapped axis of one compiles to other code; see :data:`MIN_PER_DEVICE`)."""

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x] + [x[-1:]] * (padded_size(len(x)) - len(x)))

    return pad(jax.random.key_data(keys)), jax.tree.map(pad, hparams)


def seed_shared_init(wrapped_init, num_settings: int, num_seeds: int):
    """The flat batch's initial carry (``[padded_size(S N), ...]``, item ``h N + i``) from
    :func:`seed_inputs`: ``vmap`` over settings (the key unbatched) of ``vmap`` over seeds (the
    hyperparameters unbatched), so that every computation on the key alone is batched over the
    seeds only, and done once per seed whatever the number of settings."""

    def program(key_data, hparams):
        per = jax.vmap(jax.vmap(wrapped_init, in_axes=(0, None)), in_axes=(None, 0))(
            key_data, hparams
        )
        batch = num_settings * num_seeds
        extra = padded_size(batch) - batch

        def flat(x):
            x = x[:num_settings, :num_seeds].reshape(batch, *x.shape[2:])
            return jnp.concatenate([x] + [x[-1:]] * extra) if extra else x

        return jax.tree.map(flat, per)

    return program


def check_batch(batch: int, num_devices: int, *, num_settings: int) -> None:
    """Raises :class:`ConfigError` unless the batch shards evenly, at least two runs per device."""
    padded = padded_size(batch)
    if padded % num_devices or padded // num_devices < MIN_PER_DEVICE:
        raise ConfigError(
            f"the batch of {num_settings} settings x {batch // num_settings} seeds = {batch} "
            f"runs must be a multiple of the device count ({num_devices}), with at least "
            f"{MIN_PER_DEVICE} runs per device, so that it shards evenly and every device runs "
            f"the same code; the runner refuses rather than pads (change config.num_seeds)"
        )


# Compiled programs of the experiments of this process: {train_chunk: {input signature: (init,
# chunk, abstract carry)}}. An experiment trained again with inputs of the same shapes, dtypes
# and shardings (a seed alone, padded to two runs, after a sweep of two; a second call of
# ``train`` in a notebook) reuses them; the entry goes with the experiment.
_PROGRAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(
    experiment: Experiment,
    keys,
    wrap,
    sharding: NamedSharding,
    key_data,
    hparams,
    windows=1,
    shared=None,
):
    """The compiled ``(init, train_chunk, abstract carry)`` of ``experiment`` over a batch of
    these inputs (``key_data`` the raw data of the typed ``keys``, ``wrap`` as
    :func:`batch_inputs` gives). With ``windows`` > 1 the chunk program calls ``train_chunk``
    that many times in a ``lax.scan`` and returns each call's metrics, leaves ``[batch,
    windows]``: the metrics of every window, with no trip to the host between them. With
    ``shared = (num_settings, num_seeds, seed_key_data, setting_hparams)`` (replicated, from
    :func:`seed_inputs`), ``init`` is :func:`seed_shared_init` on those."""
    init_args = (key_data, hparams) if shared is None else shared[2:]
    signature = (
        windows,
        str(jax.random.key_impl(keys)),
        sharding,
        jax.tree.structure(hparams),
        *((x.shape, x.dtype) for x in (key_data, *jax.tree.leaves(hparams))),
        experiment.init,
        None if shared is None else tuple(x.shape for x in jax.tree.leaves(init_args)),
    )
    cache = _PROGRAMS.setdefault(experiment.train_chunk, {})
    if signature not in cache:
        if shared is None:
            init = jax.jit(
                jax.vmap(wrap(experiment.init)),
                in_shardings=(sharding, sharding),
                out_shardings=sharding,
            )
        else:
            replicated = NamedSharding(sharding.mesh, PartitionSpec())
            init = jax.jit(
                seed_shared_init(wrap(experiment.init), shared[0], shared[1]),
                in_shardings=(replicated, replicated),
                out_shardings=sharding,
            )
        chunk = jax.jit(
            jax.vmap(experiment.train_chunk) if windows == 1 else _windowed(experiment, windows),
            in_shardings=(sharding, sharding),
            out_shardings=(sharding, sharding),
            donate_argnums=0,
        )
        init = init.lower(*init_args)
        abstract = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), init.out_info
        )
        chunk = chunk.lower(abstract, hparams)
        if _lapack_may_deadlock(sharding):
            calls = lapack_calls(init) | lapack_calls(chunk)
            if calls:
                raise LapackOnCpuDevices(calls)
        cache[signature] = (init.compile(), chunk.compile(), abstract)
    return cache[signature]


def _windowed(experiment: Experiment, windows: int):
    """``windows`` calls of the batched ``train_chunk`` in one scan; metrics ``[batch, windows]``
    (the batch axis first, as the sharding splits it)."""
    step = jax.vmap(experiment.train_chunk)

    def chunk(carry, hparams):
        carry, metrics = jax.lax.scan(lambda c, _: step(c, hparams), carry, None, length=windows)
        return carry, jax.tree.map(lambda m: jnp.moveaxis(m, 0, 1), metrics)

    return chunk


class LapackOnCpuDevices(Exception):
    """The programs call LAPACK and would be sharded over several CPU devices."""

    def __init__(self, calls: set[str]):
        super().__init__(", ".join(sorted(calls)))
        self.calls = calls


def lapack_calls(lowered) -> set[str]:
    """The LAPACK custom-call targets of a lowered program (``lapack_spotrf_ffi``, ...)."""
    return {t for t in re.findall(r"custom_call @(\w+)", lowered.as_text()) if "lapack" in t}


def _lapack_may_deadlock(sharding: NamedSharding) -> bool:
    """Jitted LAPACK calls sharded over several CPU host devices can deadlock (jax 0.10.2)."""
    devices = list(sharding.mesh.devices.flat)
    return len(devices) > 1 and all(d.platform == "cpu" for d in devices)


class Program:
    """An experiment's ``init`` and ``train_chunk``, vmapped over the batch, sharded, compiled.

    Compilation happens here, ahead of time (``jit(...).lower(...).compile()``), and is timed
    apart (``compile_seconds``), so that the chunks that follow run without compiling.
    """

    def __init__(
        self,
        experiment: Experiment,
        hparams,
        keys: jax.Array,
        devices=None,
        *,
        checked=False,
        windows: int = 1,
    ):
        # checked: hparams come from make_settings, which checked the experiment and every value
        if checked:
            num_settings = int(np.shape(jax.tree.leaves(hparams)[0])[0])
        else:
            num_settings = check_hparams(experiment, hparams)
        num_seeds = int(keys.shape[0])
        self.experiment = experiment
        self.windows = int(windows)  # train_chunk calls per chunk (runner's config.log_every)
        self.num_settings, self.num_seeds = num_settings, num_seeds
        self.batch = num_settings * num_seeds
        self.devices = list(jax.devices() if devices is None else devices)
        self.note = None
        check_batch(self.batch, len(self.devices), num_settings=num_settings)
        start = time.perf_counter()
        try:
            self._build(experiment, hparams, keys)
        except LapackOnCpuDevices as e:
            # A program with a LAPACK call (e.g. a Cholesky in a physics step) may hang when
            # sharded over several CPU devices: one process runs it on one device instead.
            if jax.process_count() > 1:
                raise ConfigError(
                    f"the experiment's programs call LAPACK ({e}), which can deadlock when "
                    f"sharded over several CPU devices (jax 0.10.2); run it in one process with "
                    f"one CPU device, or choose an environment without such a call"
                ) from None
            self.note = (
                f"note: running on 1 cpu device, not {len(self.devices)}: the programs call "
                f"LAPACK ({e}), which can deadlock sharded over several CPU devices (jax 0.10.2)"
            )
            self.devices = self.devices[:1]
            self._build(experiment, hparams, keys)
        self.compile_seconds = time.perf_counter() - start

    def _build(self, experiment, hparams, keys):
        mesh = Mesh(np.asarray(self.devices), ("batch",))
        self.sharding = sharding = NamedSharding(mesh, PartitionSpec("batch"))
        key_data, flat, wrap = batch_inputs(hparams, keys)
        self.hparams = jax.tree.map(lambda x: _global_array(x, sharding), flat)
        self.key_data = _global_array(key_data, sharding)
        shared = None
        if self.num_settings > 1:  # computations on the key alone once per seed
            replicated = NamedSharding(mesh, PartitionSpec())
            seed_data, setting_hparams = seed_inputs(hparams, keys)
            shared = (
                self.num_settings,
                self.num_seeds,
                _global_array(seed_data, replicated),
                jax.tree.map(lambda x: _global_array(x, replicated), setting_hparams),
            )
        self._init_args = (self.key_data, self.hparams) if shared is None else shared[2:]
        self._init, self._chunk, self.abstract_carry = _compiled(
            experiment, keys, wrap, sharding, self.key_data, self.hparams, self.windows, shared
        )

    def init(self):
        """The initial carry of every run (flat batch axis, sharded)."""
        return self._init(*self._init_args)

    def chunk(self, carry):
        """One chunk of every run: ``(carry, metrics)``; ``carry`` is donated."""
        return self._chunk(carry, self.hparams)

    def host_metrics(self, metrics: dict) -> dict[str, np.ndarray]:
        """A chunk's metrics as ``{name: [settings, seeds]}`` NumPy arrays on this process;
        ``{name: [windows, settings, seeds]}`` for a program of several windows."""
        host = gather({name: metrics[name] for name in self.experiment.metrics})
        shape = (self.num_settings, self.num_seeds)
        if self.windows == 1:
            return {name: np.asarray(v)[: self.batch].reshape(shape) for name, v in host.items()}
        return {
            name: np.moveaxis(np.asarray(v)[: self.batch].reshape(*shape, self.windows), -1, 0)
            for name, v in host.items()
        }

    def unflatten(self, carry):
        """Flat ``[settings * seeds, ...]`` leaves to ``[settings, seeds, ...]`` (a padding copy
        dropped)."""
        return unflatten(carry, self.num_settings, self.num_seeds)


def unflatten(carry, num_settings: int, num_seeds: int):
    """Flat (possibly padded) leaves to ``[settings, seeds, ...]``: NumPy leaves as NumPy views,
    device arrays in one program for the whole carry (not one per leaf)."""
    if on_host(carry):
        return _unflatten(carry, num_settings, num_seeds)
    return _unflatten_on_device(carry, num_settings, num_seeds)


def on_host(tree) -> bool:
    """Whether every leaf of ``tree`` is a NumPy array (e.g. ``run.load``'s carry), so that
    slicing it needs no device program."""
    return all(isinstance(x, np.ndarray) for x in jax.tree.leaves(tree))


def _unflatten(carry, num_settings: int, num_seeds: int):
    batch = num_settings * num_seeds
    shape = (num_settings, num_seeds)
    return jax.tree.map(lambda x: x[:batch].reshape(shape + x.shape[1:]), carry)


_unflatten_on_device = jax.jit(_unflatten, static_argnums=(1, 2))


def check_finite(
    experiment: Experiment, metrics: dict[str, np.ndarray], *, chunk: int, describe
) -> None:
    """Raises :class:`DivergenceError` for the first non-finite metric of a chunk.

    Metrics in ``experiment.nan_metrics`` may be NaN (undefined), but not infinite.
    ``describe(h, i)`` names setting ``h`` and seed index ``i`` in the message.
    """
    for name in experiment.metrics:
        values = metrics[name]
        bad = np.isinf(values) if name in experiment.nan_metrics else ~np.isfinite(values)
        if bad.any():
            h, i = (int(x) for x in np.argwhere(bad)[0])
            raise DivergenceError(
                f"{name} became {values[h, i]} in chunk {chunk} ({describe(h, i)})"
            )


def train(
    experiment: Experiment,
    hparams,
    keys: jax.Array,
    *,
    num_chunks: int,
    devices=None,
    check_divergence: bool = True,
) -> TrainResult:
    """Runs ``num_chunks`` chunks of every setting and seed in one compiled program, in memory.

    Args:
        experiment: the algorithm (:class:`Experiment`).
        hparams: an ``experiment.hparams_type`` whose leaves have shape ``[settings]``, e.g.
            ``make_settings(...).hparams``; values are checked against the domains first.
        keys: ``[seeds]`` typed keys, e.g. ``seed_keys(seed, num_seeds)``; every setting uses
            the same keys (common random numbers).
        num_chunks: chunks to run (each ``train_chunk`` call is one).
        devices: devices to shard the batch over (default: all); the batch must divide evenly.
        check_divergence: raise :class:`DivergenceError` on a non-finite metric.

    Returns:
        :class:`TrainResult`: the final carry (``[settings, seeds, ...]`` leaves) and the
        metrics ``[chunks, settings, seeds]``.
    """
    if isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 1:
        raise ConfigError(f"num_chunks must be a positive integer, got {num_chunks!r}")
    program = Program(experiment, hparams, keys, devices)
    carry = program.init()
    per_chunk = []
    for chunk in range(num_chunks):
        carry, metrics = program.chunk(carry)
        host = program.host_metrics(metrics)
        if check_divergence:
            check_finite(
                experiment,
                host,
                chunk=chunk,
                describe=lambda h, i: f"setting {h}, seed index {i}",
            )
        per_chunk.append(host)
    stacked = {name: np.stack([m[name] for m in per_chunk]) for name in experiment.metrics}
    return TrainResult(program.unflatten(carry), stacked)
