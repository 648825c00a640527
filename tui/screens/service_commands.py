"""The service page's command bar as data: each command's key, label, the permission it needs
and what it asks before it runs. The page builds its bindings, its bar and its questions from
this table, and the palette lists the page's bindings, so the three never disagree.

Module commands (`MODULE`) run through the provisioning runner, which also says whether the
module has the command and whether it applies to the service's status (and greys every one
without "perform server operations"). Service actions (`ACTIONS`) are the page's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from hostdesk.automation.provisioning.base import COMMAND_LABELS
from hostdesk.models.permissions import (
    DELETE_SERVICES,
    EDIT_SERVICES,
    MANAGE_CANCELLATIONS,
    SERVER_OPERATIONS,
    UPGRADE_ORDERS,
)

# What a command asks before it runs.
NOTHING = ""
REASON = "reason"  # one line of text, may be blank
PASSWORD = "password"  # one required secret line
TYPED = "typed"  # the service's id or domain, typed (ux.md: destructive, one service)
DIALOG = "dialog"  # a form of its own (move, add addon, cancellation request) or a screen


@dataclass(frozen=True)
class ServiceCommand:
    key: str
    name: str  # the module command, or the screen's action (`action_<name>`)
    label: str
    permission: str
    asks: str = NOTHING
    title: str = ""  # the question's title; {id} {domain} {client} {product} {addons} {user}
    text: str = ""  # what will happen, in the same words
    answer: str = ""  # the button/typed-confirmation wording

    def question(self, **facts: object) -> tuple[str, str]:
        """(title, text) of the question, the facts filled in."""
        return self.title.format(**facts), self.text.format(**facts)


MODULE = (
    ServiceCommand("c", "create", COMMAND_LABELS["create"], SERVER_OPERATIONS),
    ServiceCommand("s", "suspend", COMMAND_LABELS["suspend"], SERVER_OPERATIONS, REASON,
                   "Suspend service #{id}",
                   "{domain} · {client}. The module suspends the account.",
                   "suspend"),
    ServiceCommand("u", "unsuspend", COMMAND_LABELS["unsuspend"], SERVER_OPERATIONS),
    ServiceCommand("t", "terminate", COMMAND_LABELS["terminate"], SERVER_OPERATIONS, TYPED,
                   "Terminate service #{id}?",
                   "{product} · {domain} of {client}. The module removes the account from the "
                   "server and its {addons} addon(s) are cancelled.",
                   "terminate it"),
    ServiceCommand("p", "change_package", COMMAND_LABELS["change_package"], SERVER_OPERATIONS),
    ServiceCommand("w", "change_password", COMMAND_LABELS["change_password"], SERVER_OPERATIONS, PASSWORD,
                   "Change the password of service #{id}",
                   "The module sets it on the server for user “{user}”.",
                   "change it"),
    ServiceCommand("r", "renew", COMMAND_LABELS["renew"], SERVER_OPERATIONS),
)

# The module's own commands take these keys, in the module's order.
CUSTOM_KEYS = tuple(str(n) for n in range(1, 10))

ACTIONS = (
    ServiceCommand("U", "upgrade", "Upgrade/Downgrade", UPGRADE_ORDERS, DIALOG),
    ServiceCommand("m", "move", "Move", EDIT_SERVICES, DIALOG),
    # `d` deletes, as everywhere (tui/keys.py); on the addons list it deletes the addon.
    ServiceCommand("d", "delete", "Delete", DELETE_SERVICES, TYPED,
                   "Delete service #{id}?",
                   "{product} · {domain} of {client}, with its {addons} addon(s), is deleted "
                   "from hostdesk. The server account is NOT touched (the module is not "
                   "called). The whole record is kept in the activity log.",
                   "delete it"),
    ServiceCommand("W", "welcome", "Resend welcome", EDIT_SERVICES),
    ServiceCommand("x", "cancel_request", "Request cancellation", MANAGE_CANCELLATIONS, DIALOG),
    ServiceCommand("a", "add_addon", "Add addon", EDIT_SERVICES, DIALOG),
)

BY_NAME = {command.name: command for command in MODULE + ACTIONS}
MODULE_COMMANDS = frozenset(command.name for command in MODULE)
