"""Reading the analyzer container's environment (contract, section 2): every error names the variable."""

from __future__ import annotations

from collections.abc import Mapping

from contract.errors import ContainerConfigError
from contract.processing import DISABLED, ENABLED


class ContainerEnv:
    """The container's variables; an empty value counts as unset, as the service treats it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def value(self, name: str) -> str | None:
        return self._env.get(name) or None

    def required(self, name: str, why: str) -> str:
        text = self.value(name)
        if text is None:
            raise ContainerConfigError(f"environment variable {name} is not set: {why}")
        return text

    def switch(self, name: str) -> bool:
        """An `Enabled` / `Disabled` variable (default Disabled)."""
        text = self.value(name) or DISABLED
        if text not in (ENABLED, DISABLED):
            raise ContainerConfigError(f"{name}={text!r}: use {ENABLED} or {DISABLED}")
        return text == ENABLED
