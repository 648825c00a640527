"""One product line of the order form: product, cycle, quantity, price override, domain, and
a message line under it (the line's price, or what is wrong with it); and the column titles
above the lines."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Select, Static

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


COLUMNS = ((" #", None), ("Product", "product"), ("Cycle", "cycle"), ("Qty", "quantity"),
           ("Price", "price_override"), ("Domain (hostname)", "domain"))
KEYS = "ctrl+n add a line · ctrl+d remove the line you are in · ctrl+o options and addons"


class OrderLineHeader(Widget):
    """Above the lines: their keys, then the column titles, each over its field of the first
    line (one widget drawing both lines, issue 17)."""

    def render(self) -> Content:
        titles = Content(" #")
        rows = self.screen.query(OrderLineRow) if self.is_attached else []
        if rows:
            first, origin = rows.first(OrderLineRow), self.content_region.x
            at = len(titles)
            for title, name in COLUMNS[1:]:
                try:  # laid out before it is drawn
                    x = first.field(name).region.x - origin
                except Exception:  # noqa: BLE001 - not laid out yet: drawn again with the layout
                    x = at + 1
                if max(at + 1, x) + len(title) > self.content_size.width:
                    title = title.split(" (")[0]  # "Domain" where "(hostname)" does not fit
                titles += " " * max(1, x - at) + title
                at = max(at + 1, x) + len(title)
        else:
            titles = Content("   ".join(title for title, _ in COLUMNS))
        width = self.content_size.width
        return Content("\n").join([Content(KEYS).truncate(width, ellipsis=True),
                                   titles.truncate(width)])

    def get_content_height(self, container, viewport, width: int) -> int:
        return 2


class LineFields(Horizontal):
    """The fields of a line, after its number (drawn by this row, not a widget of its own)."""

    def __init__(self, number: int, *children: Widget) -> None:
        super().__init__(*children, classes="line-fields")
        self.number = number

    def render(self) -> Content:
        return Content(f"{self.number:>2}")


class OrderLineRow(Vertical):
    """A line of the order. Its inputs carry the class `line-<field>` (see `FIELDS`). The
    lines under it (its options and addons, its price or what is wrong) are made when they
    first have something to say."""

    def __init__(self, number: int, catalog: list[CatalogProduct], currency: str) -> None:
        super().__init__(classes="order-line")
        self.number = number
        self.catalog = {product.id: product for product in catalog}
        self.currency = currency
        self.extras = LineExtras()

    def compose(self) -> ComposeResult:
        self._fields = {
            "product": Dropdown(self._product_options(), prompt="choose a product", compact=True,
                                classes="col-product line-product"),
            "cycle": Dropdown([], prompt="shortest priced", compact=True,
                              classes="col-cycle line-cycle"),
            "quantity": Input("1", placeholder="qty", compact=True,
                              classes="col-quantity line-quantity"),
            "price_override": Input(placeholder="price", compact=True,
                                    classes="col-price_override line-price_override"),
            "domain": Input(placeholder="hostname", compact=True,
                            classes="col-domain line-domain")}
        yield LineFields(self.number, *self._fields.values())

    def _note(self, name: str, needed: bool) -> Static | None:
        """The line's `line-extras` or `line-message` under its fields, made when `needed`."""
        found = self.query_children(f".line-{name}")
        if found:
            return found.first(Static)
        if not needed:
            return None
        note = Static("", classes=f"line-{name}")
        extras = self.query_children(".line-extras")
        self.mount(note, after=extras.first() if extras else self.query_one(LineFields))
        return note

    def _product_options(self) -> list[tuple[str, int]]:
        return [(product.label, product.id) for product in self.catalog.values()]

    def field(self, name: str):
        return self._fields[name]

    def set_number(self, number: int) -> None:
        self.number = number
        fields = self.query_one(LineFields)
        fields.number = number
        fields.refresh()

    def set_catalog(self, catalog: list[CatalogProduct]) -> None:
        chosen = self.field("product").value
        self.catalog = {product.id: product for product in catalog}
        product_select: Select = self.field("product")
        with product_select.prevent(Select.Changed):  # a product still offered stays as it is
            product_select.set_options(self._product_options())
            if chosen in self.catalog:
                product_select.value = chosen
        if chosen != Select.NULL and chosen not in self.catalog:  # gone: its cycles go too
            product_select.post_message(Select.Changed(product_select, Select.NULL))

    def set_extras(self, extras: LineExtras) -> None:
        self.extras = extras
        label = self._note("extras", bool(extras.text))
        if label is None:
            return
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
        label = self._note("message", bool(message))
        if label is None:
            return
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
