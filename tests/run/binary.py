"""Running ``python -m experiments.train`` in a subprocess, for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Binary:
    """``python -m experiments.train`` in a subprocess, its stdout and stderr going to files (a
    pipe nobody reads would fill up and stall the child)."""

    def __init__(self, *flags, env: dict | None = None, log_path: str):
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self.out_path, self.err_path = f"{log_path}.out", f"{log_path}.err"
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        # A child inherits an ignored SIGINT (and then, as Unix programs do, keeps ignoring it).
        # The suite itself may run with SIGINT and SIGQUIT ignored: a shell ignores both in a
        # job it starts in the background without job control (`pytest ... &` in a script), and
        # the workers and their children inherit that. So SIGINT has Python's handler while the
        # child starts, a caught signal that exec resets to the default.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "experiments.train", *flags],
                cwd=ROOT,
                stdout=self._out,
                stderr=self._err,
                env=None if env is None else {**os.environ, **env},
            )
        finally:
            signal.signal(signal.SIGINT, previous)

    def finish(self, timeout=300) -> tuple[int, str, str]:
        """Waits for the process: ``(exit code, stdout, stderr)``."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._out.close()
            self._err.close()
        with open(self.out_path) as out, open(self.err_path) as err:
            return code, out.read(), err.read()


def train(workdir, *flags, env=None, timeout=300) -> tuple[int, str, str]:
    """Runs the launcher on ``workdir`` to the end: ``(exit code, stdout, stderr)``."""
    return Binary(f"--workdir={workdir}", *flags, env=env, log_path=f"{workdir}.log").finish(
        timeout
    )


def train_in_process(*flags) -> None:
    """``python -m experiments.train FLAGS`` in this process: the launcher's own flag parsing and
    ``main`` (no subprocess, so no second JAX import and start-up)."""
    import jax
    from absl import flags as absl_flags

    from experiments import train as launcher

    # Start JAX's backend first, so that the launcher leaves the test process's one CPU device
    # as it is (on a fresh process it would make one per core, for every later test too).
    jax.devices()

    argv, saved = ["train", *flags], sys.argv
    sys.argv = argv  # ml_collections reads the --config.X overrides from sys.argv
    try:
        absl_flags.FLAGS.unparse_flags()
        # ml_collections defines a flag per override when it parses one: forget an earlier
        # launch's, or this one's would be defined twice.
        for name in [n for n in absl_flags.FLAGS if n.startswith("config.")]:
            delattr(absl_flags.FLAGS, name)
        absl_flags.FLAGS(argv)
        launcher.main(["train"])
    finally:
        absl_flags.FLAGS.unparse_flags()
        sys.argv = saved
