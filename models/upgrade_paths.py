"""Upgrade paths of the catalog: which products (and cycles) a service of a product may move
to, and whether the client may make that move itself (rules §7, §12).

An admin may upgrade or downgrade any service to anything (the upgrade screen); the paths
only bound what a client does for itself through the headless interface a portal calls.
A path's `cycles` empty means every cycle the target has a price for; a listed cycle the
target no longer prices is not offered. One-time is never a target (an upgrade cannot reach
it); free is offered only when listed.

Reads only the catalog tables (no email, no invoicing), so the portal's look-ups stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from peewee import IntegrityError

from hostdesk.models import audit
from hostdesk.models.cycles import Cycle, parse_cycle
from hostdesk.models.db import database
from hostdesk.models.errors import RuleViolation, StaleRecordError, ValidationError
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import Admin, Product, ProductPrice, ProductUpgradePath

_ORDER = list(Cycle)


@dataclass(frozen=True)
class UpgradePath:
    """One path as the catalog editor shows it."""

    id: int
    product_id: int
    target_id: int
    target_name: str
    cycles: tuple[Cycle, ...]  # as set; empty = every priced cycle
    client_may_upgrade: bool
    version: int


@dataclass(frozen=True)
class UpgradeOption:
    """A move a client may make itself: the target product and its cycles with prices."""

    product_id: int
    product_name: str
    cycles: tuple[tuple[Cycle, Decimal], ...]


def _product(product_id: int, field: str) -> Product:
    product = Product.get_or_none(Product.id == product_id)
    if product is None:
        raise ValidationError(field, f"there is no product #{product_id}")
    return product


def _prices(product_id: int) -> dict[Cycle, Decimal]:
    """The target's prices by cycle (free costs nothing and needs no price row)."""
    known = {cycle.value for cycle in Cycle}
    prices = {Cycle(cycle): price for cycle, price in
              ProductPrice.select(ProductPrice.cycle, ProductPrice.price)
              .where(ProductPrice.product == product_id).tuples() if cycle in known}
    prices[Cycle.FREE] = Decimal("0.00")
    return prices


def parse_path_cycles(cycles, field: str = "cycles") -> tuple[Cycle, ...]:
    """`monthly, annually` (or a list of cycles) -> the cycles in calendar order; empty is
    allowed (every priced cycle). One-time is refused: no upgrade reaches it."""
    if cycles is None:
        return ()
    items = cycles.split(",") if isinstance(cycles, str) else list(cycles)
    chosen = set()
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        cycle = parse_cycle(item, field)
        if cycle is Cycle.ONE_TIME:
            raise ValidationError(field, "one-time cannot be reached by an upgrade")
        chosen.add(cycle)
    return tuple(sorted(chosen, key=_ORDER.index))


def _stored_cycles(text: str) -> tuple[Cycle, ...]:
    known = {cycle.value for cycle in Cycle}
    return tuple(Cycle(value) for value in (text or "").split(",") if value in known)


def offered_cycles(path: ProductUpgradePath, prices: dict[Cycle, Decimal]) -> tuple[Cycle, ...]:
    """The cycles a path offers today: those set that the target prices, or every priced
    recurring cycle when none is set."""
    stored = _stored_cycles(path.cycles)
    if stored:
        return tuple(cycle for cycle in stored if cycle in prices)
    return tuple(cycle for cycle in _ORDER if cycle in prices and cycle.is_recurring)


def _info(path: ProductUpgradePath, target_name: str) -> UpgradePath:
    return UpgradePath(path.id, path.product_id, path.target_id, target_name,
                       _stored_cycles(path.cycles), path.client_may_upgrade, path.version)


def set_upgrade_path(product_id: int, target_id: int, *, cycles="", client_may_upgrade: bool,
                     admin: Admin, expected_version: int | None = None) -> UpgradePath:
    """Add or change the path `product_id` -> `target_id`. Each listed cycle must be priced
    on the target. `expected_version` guards an edit against a concurrent save."""
    require(admin, MANAGE_CATALOG)
    if not isinstance(client_may_upgrade, bool):
        raise ValidationError("client_may_upgrade", "must be yes or no")
    chosen = parse_path_cycles(cycles)
    with database.atomic():
        _product(product_id, "product")
        target = _product(target_id, "target")
        prices = _prices(target.id)
        missing = [cycle.label for cycle in chosen if cycle not in prices]
        if missing:
            raise ValidationError("cycles", f"{target.name} has no {', '.join(missing)} price")
        stored = ",".join(cycle.value for cycle in chosen)
        path = ProductUpgradePath.get_or_none((ProductUpgradePath.product == product_id)
                                              & (ProductUpgradePath.target == target.id))
        if path is None:
            if expected_version is not None:
                raise RuleViolation("the upgrade path was removed meanwhile; add it again")
            try:
                with database.atomic():
                    path = ProductUpgradePath.create(product=product_id, target=target.id,
                                                     cycles=stored,
                                                     client_may_upgrade=client_may_upgrade)
            except IntegrityError:
                raise RuleViolation("another admin added this upgrade path meanwhile; "
                                    "reload and edit it") from None
            before = None
        else:
            before = audit.snapshot(path, ("cycles", "client_may_upgrade"))
            version = path.version if expected_version is None else expected_version
            updated = (ProductUpgradePath.update(cycles=stored,
                                                 client_may_upgrade=client_may_upgrade,
                                                 version=ProductUpgradePath.version + 1)
                       .where((ProductUpgradePath.id == path.id)
                              & (ProductUpgradePath.version == version)).execute())
            if updated != 1:
                raise StaleRecordError("another admin changed this upgrade path since it was "
                                       "opened; reload it")
            path = ProductUpgradePath.get_by_id(path.id)
        audit.record(admin.login, "catalog.upgrade_path", "product", product_id,
                     description=f"upgrade path to {target.name} (#{target.id}): "
                                 f"{stored or 'every priced cycle'}, client may upgrade: "
                                 f"{'yes' if client_may_upgrade else 'no'}",
                     before=before,
                     after={"target": target.id, "cycles": stored,
                            "client_may_upgrade": client_may_upgrade})
        return _info(path, target.name)


def remove_upgrade_path(product_id: int, target_id: int, *, admin: Admin) -> None:
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        path = ProductUpgradePath.get_or_none((ProductUpgradePath.product == product_id)
                                              & (ProductUpgradePath.target == target_id))
        if path is None:
            raise ValidationError("target", f"product #{product_id} has no upgrade path to "
                                            f"product #{target_id}")
        ProductUpgradePath.delete().where(ProductUpgradePath.id == path.id).execute()
        audit.record(admin.login, "catalog.upgrade_path_remove", "product", product_id,
                     description=f"upgrade path to product #{target_id} removed",
                     before=audit.snapshot(path, ("target", "cycles", "client_may_upgrade")))


def list_upgrade_paths(product_id: int, *, admin: Admin) -> list[UpgradePath]:
    """Every path of the product, for the catalog editor, by target name."""
    require(admin, MANAGE_CATALOG)
    rows = (ProductUpgradePath.select(ProductUpgradePath, Product.name.alias("target_name"))
            .join(Product, on=(ProductUpgradePath.target == Product.id), attr="target_product")
            .where(ProductUpgradePath.product == product_id)
            .order_by(Product.name, Product.id))
    return [_info(row, row.target_product.target_name) for row in rows]


def self_service_options(product_id: int) -> list[UpgradeOption]:
    """The moves a client with a service of `product_id` may make itself, with the cycles
    on offer today and their prices (retired targets are not offered)."""
    rows = (ProductUpgradePath.select(ProductUpgradePath, Product.name.alias("target_name"))
            .join(Product, on=(ProductUpgradePath.target == Product.id), attr="target_product")
            .where((ProductUpgradePath.product == product_id)
                   & (ProductUpgradePath.client_may_upgrade == True)  # noqa: E712
                   & (Product.retired == False))  # noqa: E712
            .order_by(Product.name, Product.id))
    options = []
    for path in rows:
        prices = _prices(path.target_id)
        cycles = tuple((cycle, prices[cycle]) for cycle in offered_cycles(path, prices))
        if cycles:
            options.append(UpgradeOption(path.target_id, path.target_product.target_name, cycles))
    return options


def check_self_service(product_id: int, target_id: int, cycle) -> Cycle:
    """Refuse a move the client may not make itself: ValidationError when the target or the
    cycle does not exist or is not priced (bad input), RuleViolation when no self-service
    path allows it. Returns the cycle."""
    cycle = parse_cycle(cycle, "cycle")
    target = _product(target_id, "product")
    prices = _prices(target.id)
    if cycle not in prices or cycle is Cycle.ONE_TIME:
        raise ValidationError("cycle", f"{target.name} has no {cycle.label} price")
    path = ProductUpgradePath.get_or_none((ProductUpgradePath.product == product_id)
                                          & (ProductUpgradePath.target == target.id))
    if path is None or not path.client_may_upgrade or target.retired:
        raise RuleViolation(f"a client may not move this service to {target.name} itself "
                            "(no self-service upgrade path)", field="product")
    if cycle not in offered_cycles(path, prices):
        raise RuleViolation(f"the self-service path to {target.name} does not offer "
                            f"{cycle.label}", field="cycle")
    return cycle
