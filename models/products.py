"""The product editor (issue 15): add and edit a product with its pricing table and its
configurable options, retire it, delete one nobody ordered.

A product, its prices and its options are one record for locking: every change of any of
them names the product version the admin opened and moves it on, so two admins editing the
same product never overwrite each other (a stale save is refused, nothing written). A product
with services is never deleted: it is retired (hidden from new orders, its services go on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from peewee import fn

from hostdesk.models import audit, catalog, pricing_table, records
from hostdesk.models.db import database
from hostdesk.models.errors import StaleRecordError, ValidationError
from hostdesk.models.parsing import clean_text
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import (
    Admin,
    CatalogAddonProduct,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    Product,
    ProductPrice,
    PromotionProduct,
    Server,
    Service,
    ServiceConfigOption,
)

PRODUCT_FIELDS = ("name", "group_name", "type", "description", "module", "server",
                  "module_settings", "auto_setup", "welcome_email", "upgrade_email",
                  "termination_email", "auto_terminate_days", "allows_quantity", "hidden",
                  "prices")
OPTION_FIELDS = ("name", "option_type", "sort_order", "choices")
CHOICE_FIELDS = ("name", "sort_order", "prices")


# --- what the screens show -------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceView:
    id: int
    name: str
    sort_order: int
    prices: dict[str, dict[str, str]]  # cycle -> {"price", "setup_fee"}


@dataclass(frozen=True)
class OptionView:
    id: int
    name: str
    option_type: str
    sort_order: int
    choices: tuple[ChoiceView, ...]


@dataclass(frozen=True)
class ProductDetail:
    id: int
    version: int
    values: dict[str, str]  # the editable fields as text (server: its name; secrets masked)
    server_id: int | None
    prices: dict[str, dict[str, str]]  # offered cycles, in cycle order
    options: tuple[OptionView, ...]
    retired: bool
    services: int  # services of the product (any status): why it cannot be deleted


def product_detail(product_id: int) -> ProductDetail:
    product = records.get(Product, product_id, "product")
    server = Server.get_or_none(Server.id == product.server_id) if product.server_id else None
    values = {name: records.as_text(getattr(product, name)) for name in PRODUCT_FIELDS
              if name not in ("server", "module_settings", "prices")}
    values["server"] = server.name if server else ""
    values["module_settings"] = catalog.settings_text(product.module_settings)
    return ProductDetail(
        id=product.id, version=product.version, values=values, server_id=product.server_id,
        prices=pricing_table.as_table(ProductPrice.select().where(ProductPrice.product == product.id)),
        options=tuple(_options(product.id)), retired=product.retired,
        services=Service.select().where(Service.product == product.id).count())


def _options(product_id: int) -> list[OptionView]:
    options = list(ConfigOption.select().where(ConfigOption.product == product_id)
                   .order_by(ConfigOption.sort_order, ConfigOption.id))
    choices = list(ConfigOptionChoice.select()
                   .where(ConfigOptionChoice.option.in_([o.id for o in options] or [0]))
                   .order_by(ConfigOptionChoice.sort_order, ConfigOptionChoice.id))
    prices: dict[int, list] = {}
    for row in ConfigOptionPrice.select().where(
            ConfigOptionPrice.choice.in_([c.id for c in choices] or [0])):
        prices.setdefault(row.choice_id, []).append(row)
    return [OptionView(o.id, o.name, o.option_type, o.sort_order, tuple(
        ChoiceView(c.id, c.name, c.sort_order, pricing_table.as_table(prices.get(c.id, [])))
        for c in choices if c.option_id == o.id)) for o in options]


def product_list(include_retired: bool = True) -> list[ProductDetail]:
    """Every product with its prices and options (the catalog is small), by group and name."""
    query = Product.select(Product.id).order_by(Product.group_name, Product.name, Product.id)
    if not include_retired:
        query = query.where(Product.retired == False)  # noqa: E712
    return [product_detail(pid) for (pid,) in query.tuples()]


# --- the checks ------------------------------------------------------------------------------


def _server(value) -> int | None:
    text = records.text(value, "server", 100)
    if not text:
        return None
    row = Server.get_or_none(fn.LOWER(Server.name) == text.lower())
    if row is not None:
        return row.id
    return catalog._server_id(text)


def _settings(value, stored: str) -> str:
    if isinstance(value, dict):  # a TOML table
        value = "\n".join(f"{k}={records.as_text(v)}" for k, v in value.items())
    return json.dumps(catalog.parse_settings(records.as_text(value), "module_settings", stored),
                      sort_keys=True)


def _product_rules(product: Product | None, modules: Iterable[str]) -> dict:
    modules = tuple(modules)
    record_id = product.id if product else None
    return {
        "name": lambda v: records.unique(Product, Product.name,
                                         records.text(v, "name", 200, required=True),
                                         "name", record_id, "product"),
        "group_name": lambda v: records.text(v, "group_name", 100),
        "type": lambda v: records.one_of(v, "type", Product.TYPES),
        "description": lambda v: _long_text(v, "description", 5000),
        "module": lambda v: records.one_of(v, "module", modules),
        "server": _server,
        "module_settings": lambda v: _settings(v, product.module_settings if product else "{}"),
        "auto_setup": lambda v: records.one_of(v, "auto_setup", Product.AUTO_SETUP),
        "welcome_email": lambda v: catalog._template(records.as_text(v), "welcome_email"),
        "upgrade_email": lambda v: catalog._template(records.as_text(v), "upgrade_email"),
        "termination_email": lambda v: catalog._template(records.as_text(v), "termination_email"),
        "auto_terminate_days": lambda v: catalog._days(records.as_text(v)),
        "allows_quantity": lambda v: records.yes_no(v, "allows_quantity"),
        "hidden": lambda v: records.yes_no(v, "hidden"),
        "prices": lambda v: pricing_table.parse_prices(v, "prices"),
    }


def _long_text(value, field: str, max_length: int) -> str:
    """Multi-line text (a description): newlines and tabs allowed, other controls not."""
    text = records.as_text(value)
    lines = [clean_text(line.replace("\t", "    "), field, max_length) for line in
             text.replace("\r\n", "\n").split("\n")]
    joined = "\n".join(lines).strip()
    if len(joined) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return joined


def _bump(product_id: int, version: int) -> None:
    """Take the product's version (inside the transaction): a stale editor is refused."""
    moved = (Product.update(version=Product.version + 1)
             .where((Product.id == product_id) & (Product.version == version)).execute())
    if moved != 1:
        records.get(Product, product_id, "product")
        raise StaleRecordError(f"product #{product_id} was changed by someone else since you "
                               "opened it; nothing was saved: reload it and make your change "
                               "again")


# --- products --------------------------------------------------------------------------------


def add_product(values: dict, *, admin: Admin, modules: Iterable[str],
                at=None) -> ProductDetail:
    """A new product with its pricing table (`prices`), from typed fields."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        parsed = records.checked(values, _product_rules(None, modules), unknown_refused=True)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        prices = parsed.pop("prices", {})
        product = records.create(Product, parsed, admin=admin, action="product.add",
                                 what=f"product {parsed['name']}", at=at)
        _, after = pricing_table.replace_prices(ProductPrice, "product", product.id, prices)
        if after:
            audit.record(admin.login, "product.prices", "product", product.id,
                         description=f"prices of product {product.name}", before={},
                         after=after, at=at)
    return product_detail(product.id)


def edit_product(product_id: int, version: int, values: dict, *, admin: Admin,
                 modules: Iterable[str], at=None) -> ProductDetail:
    """Save the fields given (others kept); `prices` replaces the whole pricing table."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        product = records.get(Product, product_id, "product")
        parsed = records.checked(values, _product_rules(product, modules), unknown_refused=True)
        prices = parsed.pop("prices", None)
        saved = records.save(product, parsed, version, admin=admin,
                             action="product.edit", what=f"product {product.name}", at=at)
        if prices is not None:
            before, after = pricing_table.replace_prices(ProductPrice, "product", product.id,
                                                         prices)
            if before != after:
                audit.record(admin.login, "product.prices", "product", product.id,
                             description=f"prices of product {saved.name}", before=before,
                             after=after, at=at)
    return product_detail(product_id)


def retire_product(product_id: int, version: int, *, admin: Admin,
                   retired: bool = True) -> ProductDetail:
    """Hide it from new orders (its services go on), or bring it back."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        product = records.get(Product, product_id, "product")
        records.save(product, {"retired": retired}, version, admin=admin,
                     action="product.retire" if retired else "product.unretire",
                     what=f"product {product.name}")
    return product_detail(product_id)


def delete_product(product_id: int, version: int, *, admin: Admin) -> None:
    """Only a product no service was ever ordered on; the full record goes to the log."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        detail = product_detail(product_id)
        if detail.services:
            raise ValidationError("product", f"{detail.values['name']} has {detail.services} "
                                              "service(s): retire it instead (a product with "
                                              "services is never deleted)")
        _bump(product_id, version)
        snapshot = {"product": detail.values, "prices": detail.prices,
                    "options": [_option_dict(o) for o in detail.options]}
        for model, column in ((PromotionProduct, PromotionProduct.product),
                              (CatalogAddonProduct, CatalogAddonProduct.product)):
            model.delete().where(column == product_id).execute()
        Product.delete().where(Product.id == product_id).execute()
        audit.record(admin.login, "product.delete", "product", product_id,
                     description=f"deleted product {detail.values['name']}", before=snapshot)


def _option_dict(option: OptionView) -> dict:
    return {"name": option.name, "option_type": option.option_type,
            "sort_order": option.sort_order,
            "choices": [{"name": c.name, "sort_order": c.sort_order, "prices": c.prices}
                        for c in option.choices]}


# --- configurable options --------------------------------------------------------------------


def _sort_order(value) -> int:
    text = records.as_text(value).strip() or "0"
    if not (text.isascii() and text.isdigit()) or int(text) > 9999:
        raise ValidationError("sort_order", "is a whole number from 0 to 9999")
    return int(text)


def _choice_values(values: dict, field: str) -> dict:
    parsed = records.checked(values, {
        "name": lambda v: records.text(v, f"{field}.name", 100, required=True),
        "sort_order": _sort_order,
        "prices": lambda v: pricing_table.parse_prices(v, f"{field}.prices")},
        unknown_refused=True)
    if "name" not in parsed:
        raise ValidationError(f"{field}.name", "is required")
    return parsed


def _option_values(values: dict, option_id: int | None, product_id: int) -> dict:
    def name(v):
        text = records.text(v, "name", 100, required=True)
        clash = ConfigOption.select().where((ConfigOption.product == product_id)
                                            & (fn.LOWER(ConfigOption.name) == text.lower()))
        if option_id:
            clash = clash.where(ConfigOption.id != option_id)
        if clash.exists():
            raise ValidationError("name", f"the product already has an option '{text}'")
        return text

    parsed = records.checked({k: v for k, v in values.items() if k != "choices"}, {
        "name": name,
        "option_type": lambda v: records.one_of(v, "option_type", ConfigOption.TYPES),
        "sort_order": _sort_order}, unknown_refused=True)
    return parsed


def _write_choice(option_id: int, parsed: dict, choice_id: int | None = None) -> int:
    prices = parsed.pop("prices", None)
    if choice_id is None:
        choice_id = ConfigOptionChoice.create(option=option_id, **parsed).id
    elif parsed:
        ConfigOptionChoice.update(**parsed).where(ConfigOptionChoice.id == choice_id).execute()
    if prices is not None:
        pricing_table.replace_prices(ConfigOptionPrice, "choice", choice_id, prices)
    return choice_id


def add_config_option(product_id: int, product_version: int, values: dict, *,
                      admin: Admin, at=None) -> ProductDetail:
    """An option (name, option_type dropdown/quantity/yesno, sort_order) with its `choices`:
    a list of {name, sort_order, prices}; a quantity option's one choice is priced per unit."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        records.get(Product, product_id, "product")
        parsed = _option_values(values, None, product_id)
        if "name" not in parsed:
            raise ValidationError("name", "is required")
        choices = [_choice_values(c if isinstance(c, dict) else {}, f"choices.{i}")
                   for i, c in enumerate(values.get("choices") or [], start=1)]
        if not choices:
            raise ValidationError("choices", "an option needs at least one choice")
        if parsed.get("option_type") in ("quantity", "yesno") and len(choices) != 1:
            raise ValidationError("choices", "a quantity or yes/no option has exactly one "
                                             "choice (its price)")
        _bump(product_id, product_version)
        option = ConfigOption.create(product=product_id, **parsed)
        for choice in choices:
            _write_choice(option.id, dict(choice))
        view = next(o for o in _options(product_id) if o.id == option.id)
        audit.record(admin.login, "product.option_add", "product", product_id,
                     description=f"option {option.name} added", after=_option_dict(view), at=at)
    return product_detail(product_id)


def edit_config_option(option_id: int, product_version: int, values: dict, *,
                       admin: Admin) -> ProductDetail:
    """Rename, retype or reorder an option; `choices` (optional) is a list of choices, each
    with an `id` to edit an existing one or without to add one. Choices left out are kept."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        option = records.get(ConfigOption, option_id, "option")
        parsed = _option_values(values, option.id, option.product_id)
        before = next(o for o in _options(option.product_id) if o.id == option.id)
        _bump(option.product_id, product_version)
        if parsed:
            ConfigOption.update(**parsed).where(ConfigOption.id == option.id).execute()
        existing = {c.id for c in before.choices}
        for i, choice in enumerate(values.get("choices") or [], start=1):
            choice = dict(choice)
            choice_id = choice.pop("id", None)
            if choice_id is not None and int(choice_id) not in existing:
                raise ValidationError(f"choices.{i}.id", f"option {option.name} has no choice "
                                                         f"#{choice_id}")
            if choice_id is None:
                _write_choice(option.id, _choice_values(choice, f"choices.{i}"))
            else:
                fields = records.checked(choice, {
                    "name": lambda v, i=i: records.text(v, f"choices.{i}.name", 100,
                                                        required=True),
                    "sort_order": _sort_order,
                    "prices": lambda v, i=i: pricing_table.parse_prices(v, f"choices.{i}.prices")},
                    unknown_refused=True)
                _write_choice(option.id, fields, int(choice_id))
        after = next(o for o in _options(option.product_id) if o.id == option.id)
        old, new = audit.changed(_option_dict(before), _option_dict(after))
        audit.record(admin.login, "product.option_edit", "product", option.product_id,
                     description=f"option {after.name} saved", before=old, after=new)
    return product_detail(option.product_id)


def delete_config_option(option_id: int, product_version: int, *,
                         admin: Admin) -> ProductDetail:
    """Refused while a service has the option chosen (it would lose its configuration)."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        option = records.get(ConfigOption, option_id, "option")
        used = ServiceConfigOption.select().where(ServiceConfigOption.option == option.id).count()
        if used:
            raise ValidationError("option", f"{used} service(s) have {option.name} chosen; "
                                            "it cannot be deleted")
        before = next(o for o in _options(option.product_id) if o.id == option.id)
        _bump(option.product_id, product_version)
        ConfigOption.delete().where(ConfigOption.id == option.id).execute()
        audit.record(admin.login, "product.option_delete", "product", option.product_id,
                     description=f"option {option.name} deleted", before=_option_dict(before))
    return product_detail(option.product_id)
