"""Finds provisioning modules: the built-ins plus every entry point in group `hostdesk.modules`.

A third-party package declares, in its pyproject.toml:

    [project.entry-points."hostdesk.modules"]
    mymodule = "my_package.module:MyModule"

A module that fails to load does not stop the others; `load_errors()` says what went wrong.
The built-in names (`none`, `webhook`) always mean the built-in classes.
"""

from functools import lru_cache

from hostdesk.automation.provisioning.base import ProvisioningModule
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.automation.provisioning.webhook import WebhookModule
from hostdesk.models.errors import HostdeskError

ENTRY_POINT_GROUP = "hostdesk.modules"
BUILTIN_MODULES: dict[str, type[ProvisioningModule]] = {
    "none": NoneModule,
    "webhook": WebhookModule,
}


class UnknownModule(HostdeskError):
    def __init__(self, name: str):
        super().__init__(f"provisioning module '{name}' is not installed "
                         f"(installed: {', '.join(available_modules())})")
        self.name = name


def entry_points(group: str):
    """importlib.metadata's, imported when first needed: it reads every installed package."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


@lru_cache(maxsize=1)
def _discover() -> tuple[dict[str, type[ProvisioningModule]], dict[str, str]]:
    modules: dict[str, type[ProvisioningModule]] = {}
    errors: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plug-in must not take the others down
            errors[entry.name] = f"{entry.value}: {type(exc).__name__}: {exc}"
            continue
        builtin = BUILTIN_MODULES.get(entry.name)
        if builtin is not None and loaded is not builtin:
            errors[entry.name] = (f"{entry.value}: the name '{entry.name}' belongs to a "
                                  "built-in module")
        elif not (isinstance(loaded, type) and issubclass(loaded, ProvisioningModule)):
            errors[entry.name] = f"{entry.value}: not a ProvisioningModule subclass"
        else:
            modules[entry.name] = loaded
    modules.update(BUILTIN_MODULES)
    return dict(sorted(modules.items())), errors


def available_modules() -> dict[str, type[ProvisioningModule]]:
    """Installed modules by name, sorted."""
    return dict(_discover()[0])


def secret_settings() -> dict[str, frozenset[str]]:
    """Installed modules by name, each with the settings it declares secret."""
    return {name: frozenset(getattr(cls, "secret_settings", ()) or ())
            for name, cls in _discover()[0].items()}


def load_errors() -> dict[str, str]:
    """Entry points that could not be used, with the reason."""
    return dict(_discover()[1])


def get_module(name: str) -> ProvisioningModule:
    """A fresh instance of the module called `name` (blank means `none`)."""
    # A built-in name always means the built-in class: no need to scan the installed
    # packages' entry points (a payment callback runs its jobs within a web request).
    module_class = BUILTIN_MODULES.get(name or "none") or _discover()[0].get(name)
    if module_class is None:
        raise UnknownModule(name)
    return module_class()


def rescan() -> None:
    """Forget what was found (after installing a module in a running process)."""
    _discover.cache_clear()
