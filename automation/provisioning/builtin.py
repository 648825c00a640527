"""Built-in provisioning modules that need no server: `none`. (`webhook` is in webhook.py.)"""

from hostdesk.automation.provisioning.base import (
    CommandResult,
    ProvisioningModule,
    ServerInfo,
    ServiceParams,
)

_RECORDED = "Recorded only: the product has no module that talks to a server"


class NoneModule(ProvisioningModule):
    """Records success for every command: for products with no server to talk to."""

    name = "none"
    label = "None (records only)"

    def create(self, params: ServiceParams) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def suspend(self, params: ServiceParams, reason: str) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def unsuspend(self, params: ServiceParams) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def terminate(self, params: ServiceParams) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def change_package(self, params: ServiceParams) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def change_password(self, params: ServiceParams, new_password: str) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def renew(self, params: ServiceParams) -> CommandResult:
        return CommandResult.ok(_RECORDED)

    def test_connection(self, server: ServerInfo) -> CommandResult:
        return CommandResult.ok("Nothing to connect to: the none module records only")
