"""One-line errors for the binaries: flags, config files and their overrides, work directories.

A user's mistake on the command line gets one line on stderr, ``error: ...``, naming the flag or
field and what is allowed (with "did you mean" where a close name exists), and exit code 2 for
flags (a usage error) or 1 for what the run refuses; a traceback is left only for a bug of ours.
Every binary starts with :func:`run` instead of ``absl.app.run``.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import signal
import sys
import threading

from absl import app, flags


def fail(message: str, code: int = 1):
    """Prints ``error: message`` (its first line) on stderr and exits with ``code``."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"error: {first}", file=sys.stderr, flush=True)
    sys.exit(code)


def _load_config_file(path: str):
    """The ConfigDict a config file's ``get_config()`` returns (``PATH[:arg]`` as absl takes)."""
    file_path, _, arg = path.partition(":")
    if not os.path.isfile(file_path):
        raise FileNotFoundError(f"no such file: {file_path}")
    spec = importlib.util.spec_from_file_location("_jaxrl_cli_config", file_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg) if arg else module.get_config()


def _keys(node) -> list[str]:
    try:
        return list(node.keys())
    except AttributeError:
        return []


def _explain_override(path: list[str], config, flag_name: str) -> str | None:
    """Why ``--{flag_name}.{'.'.join(path)}`` names no field, or None if it does."""
    node, walked = config, flag_name
    for i, key in enumerate(path):
        keys = _keys(node)
        if key not in keys:
            where = f"{walked} has no field {key!r}"
            close = difflib.get_close_matches(key, keys, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            if i == 1 and path[0] == "sweep" and key in _keys(config.get("hparams", {})):
                swept = ", ".join(keys) or "nothing"
                hint = (
                    f" ({key} is a hyperparameter here, config.hparams.{key}; to sweep it, add "
                    f"it to config.sweep in the config file; this config sweeps: {swept})"
                )
            elif not close and keys:
                hint = f" (its fields: {', '.join(keys)})"
            return where + hint
        node, walked = node[key], f"{walked}.{key}"
    return None


def _describe(argv: list[str], error: BaseException, defaults: dict | None = None) -> str:
    """One line for a failed flag parse: an unknown config field, a config file that cannot be
    loaded, or absl's own message. ``defaults``: config flags not registered yet, with their
    default file."""
    config_flags = {
        name: getattr(flag, "default", None)
        for name, flag in flags.FLAGS._flags().items()
        if type(flag).__name__ == "_ConfigFlag"
    }
    config_flags.update(defaults or {})
    for name in config_flags:
        values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
        path = values[-1] if values else config_flags[name]
        overrides = [
            m.group(1).split(".")
            for a in argv
            if (m := re.match(rf"--{re.escape(name)}\.([\w.]+)(=|$)", a))
        ]
        if not overrides and not values:
            continue
        try:
            config = _load_config_file(path) if isinstance(path, str) else None
        except Exception as e:  # noqa: BLE001 (its message is what the user needs)
            return f"--{name}: cannot load the config file {path!r} ({type(e).__name__}: {e})"
        if config is None:
            continue
        for override in overrides:
            reason = _explain_override(override, config, name)
            if reason:
                return f"--{name}.{'.'.join(override)}: {reason}"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def flags_parser(argv: list[str]) -> list[str]:
    """absl's flag parsing, with every failure turned into one line and exit code 2."""
    try:
        return flags.FLAGS(argv)
    except Exception as e:  # noqa: BLE001 (flag parsing raises many kinds; all are usage)
        fail(_describe(argv, e), code=2)


def config_value(holder):
    """A config flag's value; a config file that failed to load is one line (exit 2)."""
    try:
        value = holder.value
        list(value.keys())  # a file that failed to load raises only when it is used
        return value
    except Exception as e:  # noqa: BLE001
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[-1:]) if first else type(e).__name__
        fail(f"--{holder.name}: cannot load the config file ({detail})", code=2)


def refuse_swept_overrides(argv: list[str], config, flag_name: str = "config") -> None:
    """A ``--config.hparams.X=v`` for a field the config sweeps would be replaced by the sweep's
    values without a word: it is refused in one line (exit 2), saying how to run that value."""
    sweep = config.get("sweep", None)
    if sweep is None:
        return
    for arg in argv:
        match = re.match(rf"--{re.escape(flag_name)}\.hparams\.(\w+)(?:=(.*))?$", arg)
        if match and match.group(1) in sweep:
            name, value = match.group(1), match.group(2)
            fail(
                f"--{flag_name}.hparams.{name}: {name} is swept by this config "
                f"({flag_name}.sweep.{name} = {tuple(sweep[name])}), whose values would replace "
                f"this one; to run it alone, pass --{flag_name}.sweep.{name}=({value},)",
                code=2,
            )


def define_config_file(name: str, default: str, help_string: str):
    """``config_flags.DEFINE_config_file`` with a default file, whose overrides ml_collections
    applies at definition time (when the binary's module is imported): a bad override there is
    one line too."""
    from ml_collections import config_flags

    try:
        return config_flags.DEFINE_config_file(name, default, help_string, lock_config=True)
    except Exception as e:  # noqa: BLE001
        fail(_describe(sys.argv, e, {name: default}), code=2)


def at_least(name: str, minimum: int = 1) -> None:
    """Registers a validator: ``--name`` must be an integer of at least ``minimum``."""
    flags.register_validator(
        name,
        lambda v: v is not None and v >= minimum,
        message=f"--{name} must be an integer >= {minimum}",
    )


def in_range(name: str, low: float, high: float) -> None:
    """Registers a validator: ``--name`` must be a number in ``[low, high]``."""
    flags.register_validator(
        name,
        lambda v: v is not None and low <= v <= high,
        message=f"--{name} must be in [{low:g}, {high:g}]",
    )


def positive_int_list(name: str) -> None:
    """Registers a validator: ``--name`` must be a comma-separated list of positive integers."""

    def valid(values):
        try:
            return bool(values) and all(int(v) >= 1 for v in values)
        except ValueError:
            return False

    flags.register_validator(
        name, valid, message=f"--{name} must be a comma-separated list of positive integers"
    )


class Interrupts:
    """Ctrl-C for a binary that saves as it goes: raised where it lands (``KeyboardInterrupt``,
    as Python raises it), and remembered, so that :meth:`check`, called at a safe point (after
    each chunk), raises it again if it was lost. A library may catch every exception where the
    interrupt lands (orbax's wait for a checkpoint does: ``jaxrl.run.checkpoints`` holds a
    Ctrl-C back around its saves; Python's asyncio runner, which orbax uses, turns it into a
    cancellation that can be swallowed). Installed only in the main thread, over Python's
    default handler (a program with its own, or one that ignores SIGINT, is left alone)."""

    def __init__(self):
        self.received = False
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.received = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raises ``KeyboardInterrupt`` if Ctrl-C came (and was lost on its way)."""
        if self.received:
            raise KeyboardInterrupt


def run(main) -> None:
    """``absl.app.run(main)`` with one-line flag errors, and one line for Ctrl-C (exit code 130,
    the shell's for SIGINT) instead of a traceback; a binary that saves as it goes catches the
    interrupt itself first and says what was saved."""

    def interruptible(argv):
        try:
            return main(argv)
        except KeyboardInterrupt:
            fail("interrupted (Ctrl-C)", code=130)

    app.run(interruptible, flags_parser=flags_parser)
