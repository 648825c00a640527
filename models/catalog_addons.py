"""Catalog addons (issue 15): name, pricing per cycle, the products they may be added to,
auto-setup and module. Versioned, logged, one transaction each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from peewee import fn

from hostdesk.models import audit, catalog, pricing_table, records
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import (
    Admin,
    CatalogAddon,
    CatalogAddonPrice,
    CatalogAddonProduct,
    Product,
    ServiceAddon,
)

FIELDS = ("name", "description", "module", "auto_setup", "welcome_email", "prices", "products")


@dataclass(frozen=True)
class CatalogAddonView:
    id: int
    version: int
    name: str
    description: str
    module: str
    auto_setup: str
    welcome_email: str
    prices: dict[str, dict[str, str]]
    products: tuple[str, ...]  # names of the products it applies to
    services: int  # service addons made from it


def addon_view(addon_id: int) -> CatalogAddonView:
    addon = records.get(CatalogAddon, addon_id, "addon")
    names = tuple(name for (name,) in Product.select(Product.name)
                  .join(CatalogAddonProduct, on=(CatalogAddonProduct.product == Product.id))
                  .where(CatalogAddonProduct.addon == addon.id).order_by(Product.name).tuples())
    return CatalogAddonView(
        addon.id, addon.version, addon.name, addon.description, addon.module, addon.auto_setup,
        addon.welcome_email,
        pricing_table.as_table(CatalogAddonPrice.select().where(CatalogAddonPrice.addon == addon.id)),
        names, ServiceAddon.select().where(ServiceAddon.catalog_addon == addon.id).count())


def applicable_addons(product_id: int) -> list[CatalogAddon]:
    """Catalog addons that may be added to the product (linked to it, or to no product)."""
    linked = CatalogAddonProduct.select(CatalogAddonProduct.addon)
    return list(CatalogAddon.select()
                .where(CatalogAddon.id.in_(CatalogAddonProduct.select(CatalogAddonProduct.addon)
                                           .where(CatalogAddonProduct.product == product_id))
                       | CatalogAddon.id.not_in(linked))
                .order_by(CatalogAddon.name).limit(200))


def addon_choices(product_id: int) -> list[tuple[str, int]]:
    """(`Monitoring (1.50 monthly)`, id) for each catalog addon the product may take."""
    addons = applicable_addons(product_id)
    prices: dict[int, list[str]] = {}
    for price in (CatalogAddonPrice.select()
                  .where(CatalogAddonPrice.addon.in_([a.id for a in addons] or [0]))):
        prices.setdefault(price.addon_id, []).append(f"{price.price} {price.cycle}")
    return [(f"{a.name} ({', '.join(prices.get(a.id, [])) or 'no price'})", a.id) for a in addons]


def addon_list() -> list[CatalogAddonView]:
    return [addon_view(i) for (i,) in CatalogAddon.select(CatalogAddon.id)
            .order_by(CatalogAddon.name).tuples()]


def product_ids(value, field: str = "products") -> list[int]:
    """Products named by id (`#12`, `12`) or name, as a list or comma-separated text."""
    items = value if isinstance(value, (list, tuple)) else records.as_text(value).split(",")
    ids = []
    for item in items:
        text = records.as_text(item).strip()
        if not text:
            continue
        row = None
        if text.lstrip("#").isdigit():
            row = Product.get_or_none(Product.id == int(text.lstrip("#")))
        if row is None:
            row = Product.get_or_none(fn.LOWER(Product.name) == text.lower())
        if row is None:
            raise ValidationError(field, f"there is no product '{text[:40]}'")
        if row.id not in ids:
            ids.append(row.id)
    return ids


def _rules(addon_id: int | None, modules: tuple[str, ...]) -> dict:
    return {
        "name": lambda v: records.unique(CatalogAddon, CatalogAddon.name,
                                         records.text(v, "name", 200, required=True), "name",
                                         addon_id, "addon"),
        "description": lambda v: records.text(v, "description", 2000),
        "module": lambda v: records.one_of(v, "module", modules),
        "auto_setup": lambda v: records.one_of(v, "auto_setup", Product.AUTO_SETUP),
        "welcome_email": lambda v: catalog._template(records.as_text(v), "welcome_email"),
        "prices": lambda v: pricing_table.parse_prices(v, "prices"),
        "products": product_ids,
    }


def _links(addon_id: int, ids: list[int]) -> None:
    CatalogAddonProduct.delete().where(CatalogAddonProduct.addon == addon_id).execute()
    if ids:
        CatalogAddonProduct.insert_many([{"addon": addon_id, "product": pid}
                                         for pid in ids]).execute()


def add_catalog_addon(values: dict, *, admin: Admin, modules: Iterable[str],
                      at=None) -> CatalogAddonView:
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        parsed = records.checked(values, _rules(None, tuple(modules)), unknown_refused=True)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        prices, products = parsed.pop("prices", {}), parsed.pop("products", [])
        if not prices:
            raise ValidationError("prices", "price the addon on at least one cycle")
        addon = records.create(CatalogAddon, parsed, admin=admin, action="addon.add",
                               what=f"addon {parsed['name']}", at=at)
        pricing_table.replace_prices(CatalogAddonPrice, "addon", addon.id, prices)
        _links(addon.id, products)
        view = addon_view(addon.id)
        audit.record(admin.login, "addon.prices", "catalog_addon", addon.id,
                     description=f"prices and products of addon {addon.name}", before={},
                     after={"prices": view.prices, "products": list(view.products)}, at=at)
    return view


def edit_catalog_addon(addon_id: int, version: int, values: dict, *, admin: Admin,
                       modules: Iterable[str]) -> CatalogAddonView:
    """Save the fields given; `prices` and `products` each replace the whole list."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        addon = records.get(CatalogAddon, addon_id, "addon")
        parsed = records.checked(values, _rules(addon.id, tuple(modules)), unknown_refused=True)
        prices, products = parsed.pop("prices", None), parsed.pop("products", None)
        if prices == {}:
            raise ValidationError("prices", "price the addon on at least one cycle")
        before = addon_view(addon.id)
        records.save(addon, parsed, version, admin=admin, action="addon.edit",
                     what=f"addon {addon.name}")
        if prices is not None:
            pricing_table.replace_prices(CatalogAddonPrice, "addon", addon.id, prices)
        if products is not None:
            _links(addon.id, products)
        after = addon_view(addon.id)
        old, new = audit.changed({"prices": before.prices, "products": list(before.products)},
                                 {"prices": after.prices, "products": list(after.products)})
        if new:
            audit.record(admin.login, "addon.prices", "catalog_addon", addon.id,
                         description=f"prices and products of addon {after.name}", before=old,
                         after=new)
    return after
