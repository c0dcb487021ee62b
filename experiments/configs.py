"""``python -m experiments.configs [NAME[:VARIANT]]``: the experiment configs, or one's fields.

Without an argument, one line per config of ``jaxrl/configs``: its name, its variants (the
default first), the experiment module it runs and the first line of its docstring. With one, every
field of that config with its value (``--config.<field>=...`` overrides any of them in
``experiments.train``), the hyperparameters and what the config sweeps. No JAX program runs.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil

from absl import app

from experiments import cli


def _modules() -> list[str]:
    from jaxrl import configs

    names = [m.name for m in pkgutil.iter_modules(configs.__path__) if not m.name.startswith("_")]
    modules = {n: importlib.import_module(f"jaxrl.configs.{n}") for n in names}
    # An experiment config has get_config() naming its experiment (the book's and the helper
    # modules do not).
    return sorted(
        n
        for n, module in modules.items()
        if hasattr(module, "get_config") and "experiment" in module.get_config()
    )


def _config(name: str, variant: str | None):
    module = importlib.import_module(f"jaxrl.configs.{name}")
    return module.get_config(variant) if variant else module.get_config()


def _variants(name: str) -> tuple[str, ...]:
    """The variants, the default (``get_config``'s default argument) first; () if none."""
    module = importlib.import_module(f"jaxrl.configs.{name}")
    variants = tuple(getattr(module, "VARIANTS", ()))
    default = inspect.signature(module.get_config).parameters
    first = next(iter(default.values())).default if default else None
    return (first, *(v for v in variants if v != first)) if first in variants else variants


def listing() -> list[str]:
    """One line per registered config (module docstring), after how to run one."""
    lines = [
        "run one with: python -m experiments.train --config=jaxrl/configs/NAME.py[:VARIANT] "
        "--workdir=DIR; its fields: python -m experiments.configs NAME[:VARIANT]",
    ]
    for name in _modules():
        module = importlib.import_module(f"jaxrl.configs.{name}")
        purpose = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
        variants = _variants(name)
        shown = f" [{', '.join(variants)}]" if variants else ""
        lines.append(f"{name}{shown}: {_config(name, None).experiment}: {purpose}")
    return lines


def _flat(node, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key in node.keys():
        value = node[key]
        if hasattr(value, "keys"):
            out.extend(_flat(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def fields(spec: str) -> list[str]:
    """``NAME[:VARIANT]``'s fields, ``config.<field> = <value>`` a line; ``ValueError`` (one
    line) for an unknown name or variant."""
    name, _, variant = spec.partition(":")
    known = _modules()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"no config {name!r}{hint}; the configs: {', '.join(known)}")
    variants = _variants(name)
    if variant and variant not in variants:
        raise ValueError(f"{name} has no variant {variant!r}; its variants: {variants or 'none'}")
    config = _config(name, variant or None)
    return [f"config.{key} = {value!r}" for key, value in _flat(config)]


def main(argv):
    if len(argv) > 2:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[2:])}")
    try:
        lines = fields(argv[1]) if len(argv) == 2 else listing()
    except ValueError as e:
        cli.fail(str(e))
    print("\n".join(lines))


if __name__ == "__main__":
    cli.run(main)
