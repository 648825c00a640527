"""The provisioning-module contract (rules §8).

A module is a class derived from `ProvisioningModule`, found through the entry-point group
`hostdesk.modules` (see `registry.py`). It overrides the commands it can do; a command it
does not override is unavailable, and the service page shows it greyed. Every command gets
a `ServiceParams` and returns a `CommandResult`; a module never touches the database; the
runner records what it answered.
"""

from abc import ABC
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from hostdesk.models.lifecycle import (  # noqa: F401 - the command names are part of this contract
    CHANGE_PACKAGE,
    CHANGE_PASSWORD,
    CREATE,
    RENEW,
    SUSPEND,
    TERMINATE,
    UNSUSPEND,
)
from hostdesk.models.lifecycle import COMMAND_LABELS as _SERVICE_COMMAND_LABELS

TEST_CONNECTION = "test_connection"
SERVICE_COMMANDS = (CREATE, SUSPEND, UNSUSPEND, TERMINATE, CHANGE_PACKAGE, CHANGE_PASSWORD, RENEW)
COMMAND_LABELS = {**_SERVICE_COMMAND_LABELS, TEST_CONNECTION: "Test Connection"}


@dataclass(frozen=True)
class CommandResult:
    success: bool
    message: str = ""
    data: dict = field(default_factory=dict)

    @classmethod
    def ok(cls, message: str = "", **data) -> "CommandResult":
        return cls(True, message, data)

    @classmethod
    def failed(cls, message: str, **data) -> "CommandResult":
        return cls(False, message, data)


@dataclass(frozen=True)
class ClientInfo:
    id: int
    name: str
    email: str
    company: str = ""


@dataclass(frozen=True)
class ProductInfo:
    id: int
    name: str
    type: str
    module: str


@dataclass(frozen=True)
class ServerInfo:
    id: int
    name: str
    hostname: str
    ip_address: str
    settings: dict = field(default_factory=dict, repr=False)  # may hold credentials

    def public(self) -> dict:
        """What may leave hostdesk: everything but the settings (they hold credentials)."""
        return {"id": self.id, "name": self.name, "hostname": self.hostname,
                "ip_address": self.ip_address}


@dataclass(frozen=True)
class ServiceParams:
    """Everything a module needs about one service. The password is in clear only here."""

    service_id: int
    status: str
    client: ClientInfo
    product: ProductInfo
    server: ServerInfo | None
    domain: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    config_options: dict = field(default_factory=dict)  # option name -> choice name or quantity
    module_settings: dict = field(default_factory=dict, repr=False)  # the product's
    # The same for every attempt of one command (a queued job's retries included), so a
    # remote endpoint can recognise a repeat and drop it.
    delivery_id: str = ""

    def public(self) -> dict:
        """The service as sent to a remote endpoint: no module or server settings."""
        return {
            "id": self.service_id,
            "status": self.status,
            "domain": self.domain,
            "username": self.username,
            "password": self.password,
            "config_options": dict(self.config_options),
            "client": asdict(self.client),
            "product": asdict(self.product),
            "server": self.server.public() if self.server else None,
        }


class ProvisioningModule(ABC):
    """Base of every module. Override the commands the module can perform."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    # Product/server settings that are credentials: stored encrypted, shown masked.
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    # The commands that get the service password in clear; the others never decrypt it.
    password_commands: ClassVar[frozenset[str]] = frozenset({CREATE, CHANGE_PASSWORD})

    def create(self, params: ServiceParams) -> CommandResult:
        raise NotImplementedError

    def suspend(self, params: ServiceParams, reason: str) -> CommandResult:
        raise NotImplementedError

    def unsuspend(self, params: ServiceParams) -> CommandResult:
        raise NotImplementedError

    def terminate(self, params: ServiceParams) -> CommandResult:
        raise NotImplementedError

    def change_package(self, params: ServiceParams) -> CommandResult:
        raise NotImplementedError

    def change_password(self, params: ServiceParams, new_password: str) -> CommandResult:
        raise NotImplementedError

    def renew(self, params: ServiceParams) -> CommandResult:
        raise NotImplementedError

    def test_connection(self, server: ServerInfo) -> CommandResult:
        raise NotImplementedError

    def custom_commands(self) -> dict[str, str]:
        """Module-specific commands: name -> label shown on the command bar."""
        return {}

    def run_custom(self, name: str, params: ServiceParams) -> CommandResult:
        return CommandResult.failed(f"the {self.display_name} module has no command '{name}'")

    @property
    def display_name(self) -> str:
        return self.label or self.name or type(self).__name__

    @classmethod
    def supported_commands(cls) -> frozenset[str]:
        """The built-in commands this module overrides (the others are greyed)."""
        return frozenset(
            command for command in (*SERVICE_COMMANDS, TEST_CONNECTION)
            if getattr(cls, command) is not getattr(ProvisioningModule, command)
        )
