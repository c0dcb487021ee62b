"""The hyperparameter settings of a sweep: zipped or crossed, typed, checked against domains.

A config gives a default for every field of the experiment's ``Hparams`` (``config.hparams``) and
lists of values for the swept ones (``config.sweep``). ``config.sweep_mode`` says how the lists
combine: ``"zip"`` (setting ``h`` takes entry ``h`` of every list, all of one length) or
``"product"`` (the cartesian grid, crossed in the order of the ``Hparams`` fields, the last field
varying fastest). Every value is checked against its field's :class:`~jaxrl.run.Domain` here, in
plain Python, before anything is compiled.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxrl.run.experiment import ConfigError, Experiment, check_experiment

SWEEP_MODES = ("zip", "product")


class Settings(NamedTuple):
    """A sweep's settings.

    Attributes:
        hparams: an ``Hparams`` whose leaves have shape ``[H]`` (int32 for integer domains,
            float32 otherwise): setting ``h`` is entry ``h`` of every leaf.
        values: one dict of plain Python numbers per setting.
        labels: a short label per setting naming every swept field (``"learning_rate=0.1"``).
        swept: the swept fields, in ``Hparams`` order.
    """

    hparams: Any
    values: list[dict[str, float | int]]
    labels: list[str]
    swept: tuple[str, ...]


INT32 = (-(2**31), 2**31 - 1)


def _number(where: str, value, domain) -> float | int:
    """``value`` as a plain int (in the int32 range) or float (finite in float32)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ConfigError(f"{where} must be finite, got {value!r}")
    if domain.integer:
        if x != int(x):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        if not INT32[0] <= int(x) <= INT32[1]:
            raise ConfigError(f"{where} must fit in int32, got {value!r}")
        return int(x)
    if abs(x) > float(np.finfo(np.float32).max):
        raise ConfigError(f"{where} = {value!r} overflows float32")
    return x


def _as_leaf(value: float | int, domain) -> float:
    """The value the program will see (float32-rounded for a real), for the domain check: 1e-50
    is positive but its float32 is 0, and 1 - 1e-8 is below 1 but its float32 is 1."""
    return float(value) if domain.integer else float(np.float32(value))


def label(values: Mapping[str, float | int], swept: Sequence[str]) -> str:
    """A short label such as ``learning_rate=0.1, period=10`` for the swept fields."""
    if not swept:
        return "default"
    return ", ".join(f"{name}={values[name]:g}" for name in swept)


def make_settings(
    experiment: Experiment,
    defaults: Mapping[str, Any],
    sweep: Mapping[str, Sequence[Any]],
    *,
    mode: str = "zip",
) -> Settings:
    """The settings of a sweep, stacked and checked.

    Raises :class:`~jaxrl.run.ConfigError` (a ``ValueError``) naming the field (and the setting)
    for: an unknown field, a missing default, an empty or non-list sweep, lists of different
    lengths in ``"zip"`` mode, a value that is not a number (booleans and strings included), not
    finite, not an integer where the domain wants one, outside int32 or float32, or outside its
    domain once rounded to the leaf's dtype; and for an unknown ``mode``.
    """
    check_experiment(experiment)
    for what, mapping in (("hparams", defaults), ("sweep", sweep)):
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"config.{what} must be a mapping of field names, got {mapping!r}")
    if mode not in SWEEP_MODES:
        raise ConfigError(f"config.sweep_mode must be one of {SWEEP_MODES}, got {mode!r}")
    fields = experiment.hparams_type._fields
    domains = experiment.domains
    for name in defaults:
        if name not in fields:
            raise ConfigError(f"hparams.{name} is not a hyperparameter; allowed: {list(fields)}")
    for name in fields:
        if name not in defaults:
            raise ConfigError(f"hparams.{name} needs a default value")
    columns: dict[str, list] = {}
    for name, values in sweep.items():
        if name not in fields:
            raise ConfigError(f"sweep.{name} is not a hyperparameter; allowed: {list(fields)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"sweep.{name} must be a non-empty list of numbers, got {values!r}")
        columns[name] = [_number(f"sweep.{name}", v, domains[name]) for v in values]
    swept = tuple(name for name in fields if name in columns)
    if mode == "zip":
        lengths = {name: len(columns[name]) for name in swept}
        if len(set(lengths.values())) > 1:
            raise ConfigError(
                f"sweep lists must all have the same length when config.sweep_mode is 'zip' "
                f"(they are zipped; use 'product' for a grid); got lengths {lengths}"
            )
        num = next(iter(lengths.values())) if lengths else 1
        rows = [tuple(columns[name][h] for name in swept) for h in range(num)]
    else:
        rows = list(itertools.product(*(columns[name] for name in swept)))
    fixed = {
        name: _number(f"hparams.{name}", defaults[name], domains[name])
        for name in fields
        if name not in columns
    }
    settings = [{**fixed, **dict(zip(swept, row, strict=True))} for row in rows]
    settings = [{name: s[name] for name in fields} for s in settings]
    labels = [label(s, swept) for s in settings]
    for h, setting in enumerate(settings):
        for name in fields:
            leaf = _as_leaf(setting[name], domains[name])
            if not domains[name].contains(leaf):
                source = f"sweep.{name}" if name in columns else f"hparams.{name}"
                where = f" in setting {h} ({labels[h]})" if name in columns else ""
                shown = f"{setting[name]:g}"
                if leaf != setting[name]:
                    shown = f"{setting[name]!r} ({leaf:g} in float32)"
                raise ConfigError(
                    f"{source} = {shown}{where} is outside its domain: it must be {domains[name]}"
                )
    hparams = experiment.hparams_type(
        **{name: jnp.asarray([s[name] for s in settings], domains[name].dtype) for name in fields}
    )
    return Settings(hparams, settings, labels, swept)


def settings_from_config(experiment: Experiment, config) -> Settings:
    """:func:`make_settings` from a config's ``hparams``, ``sweep`` and ``sweep_mode``."""
    for what in ("hparams", "sweep"):
        if what not in config:
            raise ConfigError(f"config lacks the field {what!r}")
        if not isinstance(config[what], Mapping) and not hasattr(config[what], "items"):
            raise ConfigError(
                f"config.{what} must be a mapping of field names, got {config[what]!r}"
            )
    return make_settings(
        experiment,
        dict(config.hparams.items()),
        dict(config.sweep.items()),
        mode=config.get("sweep_mode", "zip"),
    )
