"""One product line of the order form: product, cycle, quantity, price override, domain, and
a message line under it (the line's price, or what is wrong with it)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from hostdesk.models.cycles import Cycle
from hostdesk.models.money import format_money
from hostdesk.models.orders import CatalogProduct, LineRequest
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.widgets.line_extras import LineExtras

FIELDS = ("product", "cycle", "quantity", "price_override", "domain")


def cycle_option(price) -> str:
    """`Monthly 10.00 +5.00 setup`: the cycle with its price (the currency is in the total)."""
    text = f"{price.cycle.label} {format_money(price.price, '')}"
    if price.setup_fee:
        text += f" +{format_money(price.setup_fee, '')} setup"
    return text


class OrderLineHeader(Horizontal):
    """The column titles above the lines."""

    def compose(self) -> ComposeResult:
        for title, column in (("#", "number"), ("Product", "product"), ("Cycle", "cycle"),
                              ("Qty", "quantity"), ("Price", "price_override"),
                              ("Domain (hostname)", "domain")):
            yield Label(title if column != "number" else " #", classes=f"col-{column}")


class OrderLineRow(Vertical):
    """A line of the order. Its inputs carry the class `line-<field>` (see `FIELDS`)."""

    def __init__(self, number: int, catalog: list[CatalogProduct], currency: str) -> None:
        super().__init__(classes="order-line")
        self.number = number
        self.catalog = {product.id: product for product in catalog}
        self.currency = currency
        self.extras = LineExtras()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(f"{self.number:>2}", classes="col-number line-number")
            yield Dropdown(self._product_options(), prompt="choose a product", compact=True,
                         classes="col-product line-product")
            yield Dropdown([], prompt="shortest priced", compact=True,
                         classes="col-cycle line-cycle")
            yield Input("1", placeholder="qty", compact=True,
                        classes="col-quantity line-quantity")
            yield Input(placeholder="price", compact=True,
                        classes="col-price_override line-price_override")
            yield Input(placeholder="hostname", compact=True, classes="col-domain line-domain")
        yield Static("", classes="line-extras")
        yield Static("", classes="line-message")

    def _product_options(self) -> list[tuple[str, int]]:
        return [(product.label, product.id) for product in self.catalog.values()]

    def field(self, name: str):
        return self.query_one(f".line-{name}")

    def set_number(self, number: int) -> None:
        self.number = number
        self.query_one(".line-number", Label).update(f"{number:>2}")

    def set_catalog(self, catalog: list[CatalogProduct]) -> None:
        chosen = self.field("product").value
        self.catalog = {product.id: product for product in catalog}
        product_select: Select = self.field("product")
        product_select.set_options(self._product_options())
        if chosen in self.catalog:
            product_select.value = chosen

    def set_extras(self, extras: LineExtras) -> None:
        self.extras = extras
        label = self.query_one(".line-extras", Static)
        label.update(Text(extras.text))
        label.set_class(bool(extras.text), "-shown")

    @on(Select.Changed, ".line-product")
    def _product_chosen(self, event: Select.Changed) -> None:
        self.set_extras(LineExtras())  # another product's options and addons
        product = self.catalog.get(event.value) if event.value != Select.NULL else None
        cycle_select: Select = self.field("cycle")
        if product is None or not product.prices:
            cycle_select.set_options([])
            cycle_select.prompt = "shortest priced"
            return
        shortest = product.prices[0]
        cycle_select.set_options([(cycle_option(p), p.cycle.value) for p in product.prices])
        cycle_select.prompt = f"shortest: {cycle_option(shortest)}"

    def request(self) -> LineRequest:
        product = self.field("product").value
        cycle = self.field("cycle").value
        return LineRequest(
            product=None if product == Select.NULL else product,
            cycle="" if cycle == Select.NULL else str(cycle),
            quantity=self.field("quantity").value,
            price_override=self.field("price_override").value,
            domain=self.field("domain").value,
            config_options=dict(self.extras.config_options), addons=list(self.extras.addons))

    def show(self, message: str, error: bool = False) -> None:
        label = self.query_one(".line-message", Static)
        label.update(Text(message))
        label.set_class(error, "-error")
        label.set_class(bool(message), "-shown")


def summary(line, currency: str) -> str:
    """`Monthly 10.00 + 5.00 setup − 1.80 promotion = 13.20 USD × 3` for a priced line."""
    parts = [f"{Cycle(line.cycle).label} {format_money(line.price, '')}"]
    if line.overridden:
        parts[0] += " (override)"
    if line.options_price:
        parts.append(f"+ {format_money(line.options_price, '')} options")
    if line.setup_fee:
        parts.append(f"+ {format_money(line.setup_fee, '')} setup")
    if line.discount.first:
        parts.append(f"− {format_money(line.discount.first, '')} {line.promotion.code}")
    addons = sum(addon.first_payment for addon in line.addons)
    if addons:
        parts.append(f"+ {format_money(addons, '')} addons")
    text = " ".join(parts) + f" = {format_money(line.first_payment, currency)}"
    if line.quantity > 1:
        text += f" × {line.quantity} services"
    return text
