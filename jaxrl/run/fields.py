"""Each config field of an experiment declared once, in a :class:`Schema`.

A schema lists an experiment's fields, each with what it is for (one line) and either

* :func:`static`: a top-level config field fixed when ``make_experiment(config)`` runs (sizes,
  names, switches, blocks such as ``optimizer``), with its :class:`Kind` (or a
  :class:`~jaxrl.run.Domain` for a number); or
* :func:`swept`: a value of ``config.hparams`` / ``config.sweep``, an array leaf of the
  experiment's ``Hparams`` (so a sweep is a vmap), with its :class:`~jaxrl.run.Domain`.

Everything else comes from it: the ``Hparams`` NamedTuple (:attr:`Schema.hparams_type`, its
fields in declaration order), the domains the runner checks the settings against
(:attr:`Schema.domains`), and :meth:`Schema.check`, which holds a config to exactly the runner's
fields plus the schema's (an unknown field is an error, not silently ignored; so is a missing
one) and refuses a bad static value in one line naming it, before anything is compiled. A field
may exist only in some configs of an experiment (``when=``: e.g. ``n`` of n-step Sarsa).
Relations between fields (a buffer that must hold a step's transitions) stay in the
experiment's own code, after ``check``.

Example (a fork's agent)::

    SCHEMA = fields.Schema(
        "mypkg.my_agent",
        hidden=fields.static(fields.WIDTHS, "hidden layer widths"),
        learning_rate=fields.swept(POSITIVE, "adam's step size"),
    )
    Hparams = SCHEMA.hparams_type
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxrl.run.experiment import ConfigError, Domain

# Fields every runner config has (see ``jaxrl.run``); the runner checks the values of
# ``RUNNER`` (``jaxrl.run.check_config``) and the settings of ``hparams``, ``sweep`` and
# ``sweep_mode`` (``jaxrl.run.make_settings``).
SHARED_FIELDS = ("seed", "num_seeds", "total_steps", "chunk_steps", "checkpoint_every")
RUNNER_FIELDS = frozenset({"experiment", *SHARED_FIELDS, "hparams", "sweep", "sweep_mode"})
# The runner's optional fields: ``log_every``, the training steps between recorded points
# (``jaxrl.run.runner.window_steps``).
OPTIONAL_RUNNER_FIELDS = frozenset({"log_every"})


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


class Kind(NamedTuple):
    """What a static field's value may be: ``test(value) -> bool``, and ``allowed``, the words of
    the one-line error (``config.<name> must be <allowed>, got <value>``). A block (a nested
    ``ConfigDict``) instead has ``check(value, config)``, which raises its own one line."""

    test: Callable[[Any], bool] | None
    allowed: str
    check: Callable[[Any, Any], None] | None = None


def kind(test: Callable[[Any], bool], allowed: str) -> Kind:
    """A kind of static value: those passing ``test``, described as ``allowed``."""
    return Kind(test, allowed)


def one_of(*choices) -> Kind:
    """A name among ``choices``."""
    return Kind(lambda v: isinstance(v, str) and v in choices, f"one of {choices}")


def block(check: Callable[[Any, Any], None], allowed: str) -> Kind:
    """A nested block (``config.optimizer``, ``config.env``), checked by ``check(value,
    config)``, which raises :class:`~jaxrl.run.ConfigError` (or ``ValueError``) in one line."""
    return Kind(None, allowed, check)


POSITIVE_INT = kind(lambda v: _is_int(v) and v >= 1, "a positive integer")
COUNT = kind(lambda v: _is_int(v) and v >= 0, "an integer >= 0")
BOOLEAN = kind(lambda v: isinstance(v, (bool, np.bool_)), "True or False")
TEXT = kind(lambda v: isinstance(v, str) and bool(v), "a non-empty string")
WIDTHS = kind(
    lambda v: isinstance(v, (tuple, list)) and all(_is_int(w) and w >= 1 for w in v),
    "a tuple of positive integers",
)
CELL = kind(
    lambda v: isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(x) for x in v),
    "a (row, column) pair of integers",
)
ANY_BLOCK = block(lambda value, config: None, "a block of options")


class Field(NamedTuple):
    """One declared field: static (``kind``) or swept (``domain``), with its one-line doc and,
    for a field only some configs have, ``when(config) -> bool``."""

    swept: bool
    kind: Kind | Domain
    doc: str
    when: Callable[[Any], bool] | None = None


def static(kind: Kind | Domain, doc: str, *, when: Callable[[Any], bool] | None = None) -> Field:
    """A static field: a top-level config value, fixed when the experiment is made."""
    return Field(False, kind, doc, when)


def swept(domain: Domain, doc: str) -> Field:
    """A swept field: a leaf of ``Hparams``, defaulted in ``config.hparams`` and listed in
    ``config.sweep``; every value is checked against ``domain`` by the runner."""
    if not isinstance(domain, Domain):
        raise TypeError(f"a swept field needs a Domain, got {domain!r}")
    return Field(True, domain, doc)


# The runner's own static fields (``config.experiment`` is read by the launcher).
RUNNER = {
    "seed": static(
        kind(lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in [0, 2^32)"),
        "base seed: seed index i uses fold_in(key(seed), i)",
    ),
    "num_seeds": static(POSITIVE_INT, "independent runs per hyperparameter setting"),
    "total_steps": static(POSITIVE_INT, "training steps per seed"),
    "chunk_steps": static(POSITIVE_INT, "training steps per compiled chunk"),
    "checkpoint_every": static(POSITIVE_INT, "chunks between checkpoints"),
}
assert tuple(RUNNER) == SHARED_FIELDS


class Schema:
    """An experiment's fields, each declared once (module docstring).

    Args:
        module: the experiment's name, for messages (``"jaxrl.agents.dqn"``).
        **fields: name -> :func:`static` or :func:`swept` field, in order (the swept ones give
            the ``Hparams`` fields in this order, which is also the order a ``"product"`` sweep
            crosses them in).
    """

    def __init__(self, module: str, **fields: Field):
        for name, field in fields.items():
            if not isinstance(field, Field):
                raise TypeError(f"field {name!r} of {module} must be static(...) or swept(...)")
            if name in RUNNER_FIELDS | OPTIONAL_RUNNER_FIELDS or name == "schema":
                raise ValueError(f"field {name!r} of {module} is a reserved name")
        self.module = module
        self.fields: dict[str, Field] = dict(fields)
        swept_names = [name for name, f in fields.items() if f.swept]
        hparams = typing.NamedTuple("Hparams", [(name, jax.Array) for name in swept_names])
        hparams.__module__ = module.split(" ")[0]  # "pkg.mod (variant)" names pkg.mod
        hparams.__doc__ = f"The swept values of {module}:\n\n" + "\n".join(
            f"* ``{name}``: {fields[name].doc} ({fields[name].kind})" for name in swept_names
        )
        hparams.schema = self  # where a runner (or a test) finds the declarations
        self.hparams_type = hparams

    @property
    def domains(self) -> dict[str, Domain]:
        """``{name: Domain}`` of the swept fields (a fresh dict: narrowing it is local)."""
        return {name: f.kind for name, f in self.fields.items() if f.swept}

    @property
    def swept_names(self) -> tuple[str, ...]:
        return self.hparams_type._fields

    def extend(self, module: str, *, after: str | None = None, **fields: Field) -> Schema:
        """This schema plus ``fields`` (inserted after the field ``after``, or at the end), for
        ``module``: how an algorithm adds its own fields to its scaffold's."""
        items = list(self.fields.items())
        at = len(items) if after is None else [n for n, _ in items].index(after) + 1
        return Schema(module, **dict(items[:at] + list(fields.items()) + items[at:]))

    def _present(self, config) -> dict[str, Field]:
        return {
            n: f
            for n, f in self.fields.items()
            if not f.swept and (f.when is None or f.when(config))
        }

    def check(self, config) -> None:
        """Refuses, in one line naming the field, a config whose top-level fields are not
        exactly the runner's plus this schema's static ones (those whose ``when`` holds), or
        whose static value is not of its kind. The fields every config has come first (a
        ``when`` reads them). (The swept values are the runner's to check, against
        :attr:`domains`.)"""
        always = {n: f for n, f in self.fields.items() if not f.swept and f.when is None}
        for name, field in always.items():
            if name not in config:
                raise ConfigError(
                    f"config lacks the field {name!r} ({field.doc}) that {self.module} reads"
                )
            check_value(f"config.{name}", config[name], field.kind, config)
        expected = {
            n: f
            for n, f in self.fields.items()
            if not f.swept and (f.when is None or f.when(config))
        }
        required = RUNNER_FIELDS | set(expected)
        present = set(config.keys())
        extra = sorted(present - required - OPTIONAL_RUNNER_FIELDS)
        missing = sorted(required - present)
        if extra:
            name = extra[0]
            field = self.fields.get(name)
            if field is not None and not field.swept:  # declared, but not for this config
                raise ConfigError(
                    f"config.{name} is not read by {self.module} with this config "
                    f"({field.doc}); remove it"
                )
            if field is not None:
                raise ConfigError(
                    f"config.{name} is swept: set it as config.hparams.{name} "
                    f"(or list it in config.sweep.{name})"
                )
            raise ConfigError(
                f"config.{name} is not a field of {self.module}, which reads: "
                f"{', '.join(sorted(expected))}"
            )
        if missing:
            name = missing[0]
            what = f" ({expected[name].doc})" if name in expected else ""
            raise ConfigError(f"config lacks the field {name!r}{what} that {self.module} reads")
        for name, field in expected.items():
            if name not in always:
                check_value(f"config.{name}", config[name], field.kind, config)

    def describe(self) -> str:
        """One line per field: name, static or swept, what it may be, and what it is for."""
        return "\n".join(
            f"{name:<22} {'swept' if f.swept else 'static':<6} {_allowed(f.kind)}: {f.doc}"
            for name, f in self.fields.items()
        )


def _allowed(kind: Kind | Domain) -> str:
    return str(kind) if isinstance(kind, Domain) else kind.allowed


def check_value(where: str, value, kind: Kind | Domain, config=None) -> None:
    """Refuses ``value`` in one line (``<where> must be <allowed>, got <value>``) unless it is of
    ``kind``; a block's own check raises its own line."""
    if isinstance(kind, Domain):
        good = _is_number(value) and (not kind.integer or _is_int(value))
        good = good and kind.contains(float(value))
    elif kind.check is not None:
        if not isinstance(value, Mapping) and not hasattr(value, "items"):
            raise ConfigError(f"{where} must be {kind.allowed}, got {value!r}")
        try:
            kind.check(value, config)
        except ConfigError:
            raise
        except ValueError as error:  # a library's own one-line check
            raise ConfigError(str(error)) from None
        return
    else:
        try:
            good = bool(kind.test(value))
        except TypeError:  # e.g. an unhashable value tested for membership
            good = False
    if not good:
        raise ConfigError(f"{where} must be {_allowed(kind)}, got {value!r}")
