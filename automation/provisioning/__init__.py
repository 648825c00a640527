"""Provisioning modules (rules §8).

- `base`: the module contract (`ProvisioningModule`, `ServiceParams`, `CommandResult`).
- `registry`: finds modules (built-ins and the entry-point group `hostdesk.modules`).
- `builtin`, `webhook`: the built-in `none` and `webhook` modules.
- `runner`: runs a command for a service and records it (`run_command`), the command bar's
  `command_availability`, and the daily run's `module_queue_task`.
"""
