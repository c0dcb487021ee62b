"""W&B's refusals in one line, before anything is compiled: the package missing, no login.
(What TensorBoard and W&B record of a run: ``tests/run/test_runner.py``,
``test_run_writes_results``.)"""

import sys

import pytest

from jaxrl.run import ConfigError, tracking


def test_wandb_without_its_package_or_a_login_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    with pytest.raises(
        ConfigError, match=r"needs the wandb package: pip install 'jaxrl\[tracking\]'"
    ):
        tracking.Wandb(str(tmp_path), {}, project="jaxrl-tests")
    monkeypatch.delitem(sys.modules, "wandb")
    import wandb

    wandb.teardown()  # W&B's process-wide settings, from an offline run of another test here
    # Online, with no API key anywhere W&B looks (the environment, ~/.netrc, its settings).
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    with pytest.raises(ConfigError) as error:
        tracking.Wandb(str(tmp_path), {}, project="jaxrl-tests")
    message = str(error.value)
    assert "\n" not in message and message.startswith("W&B could not start a run ("), message
    assert "wandb login" in message and "WANDB_MODE=offline" in message, message
