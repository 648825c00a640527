"""Promotion codes: validity, what they apply to, the discount of each type, uses."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import promotions
from hostdesk.models.errors import ValidationError
from hostdesk.models.promotions import Discount, discount_for, renewal_amount, validate_promo
from hostdesk.models.schema import Promotion, PromotionProduct
from tests import factories as make

D = Decimal
TODAY = pendulum.date(2026, 3, 15)


def unsaved(code="SAVE", type="percentage", value="10.00", **kw) -> Promotion:
    """A promotion for the pure discount math (no database)."""
    return Promotion(code=code, type=type, value=D(value), **kw)


def promo(code="SAVE", type="percentage", value="10.00", products=(), **kw) -> Promotion:
    row = Promotion.create(code=code, type=type, value=D(value), **kw)
    for product in products:
        PromotionProduct.create(promotion=row, product=product)
    return row


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- validity -------------------------------------------------------------------------------


def test_blank_code_is_no_promotion_and_unknown_code_is_refused(db):
    product = make.product()
    assert validate_promo("  ", product, "monthly", TODAY) is None
    error = refused(validate_promo, "NOPE", product, "monthly", TODAY)
    assert (error.field, error.message) == ("promo_code", "there is no promotion with the code 'NOPE'")


def test_code_is_found_regardless_of_case(db):
    row = promo("Spring26")
    assert validate_promo("spring26", make.product(), "monthly", TODAY).id == row.id


def test_dates_are_inclusive(db):
    product = make.product()
    promo("WINDOW", start_date=TODAY, expiry_date=TODAY)
    assert validate_promo("WINDOW", product, "monthly", TODAY) is not None
    error = refused(validate_promo, "WINDOW", product, "monthly", TODAY.add(days=1))
    assert error.message == "'WINDOW' expired on 2026-03-15"
    error = refused(validate_promo, "WINDOW", product, "monthly", TODAY.subtract(days=1))
    assert error.message == "'WINDOW' is not valid before 2026-03-15"


def test_a_code_with_no_uses_left_is_refused(db):
    promo("ONCE", max_uses=2, uses=2)
    error = refused(validate_promo, "ONCE", make.product(), "monthly", TODAY)
    assert error.message == "'ONCE' has been used its maximum of 2 times"


def test_applies_to_linked_products_and_listed_cycles_only(db):
    hosting = make.product(name="Hosting", prices={"monthly": "10.00", "annually": "100.00"})
    vps = make.product(name="VPS")
    promo("HOST", products=[hosting], cycles="annually,biennially")
    assert validate_promo("HOST", hosting, "annually", TODAY) is not None
    error = refused(validate_promo, "HOST", hosting, "monthly", TODAY)
    assert error.message == ("'HOST' does not apply to this product and cycle "
                             "(applies to Hosting; cycles: annually, biennially)")
    assert "applies to Hosting" in refused(validate_promo, "HOST", vps, "annually", TODAY).message


def test_no_products_and_no_cycles_listed_means_everything(db):
    promo("ALL")
    assert validate_promo("ALL", make.product(), "triennially", TODAY) is not None


# --- the discount of each type --------------------------------------------------------------


def test_percentage_is_rounded_half_up_once():
    assert discount_for(unsaved("P1", "percentage", "12.50"), D("10.05"), D("5.00")) == Discount(
        first=D("1.26"), recurring=D("0.00"))  # 1.25625 → 1.26; the setup fee is untouched
    recurring = unsaved("P2", "percentage", "15.00", recurring=True)
    assert discount_for(recurring, D("19.99"), D("0.00")) == Discount(D("3.00"), D("3.00"))  # 2.9985


def test_percentage_over_100_takes_at_most_the_price():
    assert discount_for(unsaved("P", "percentage", "150.00"), D("8.00"), D("0")).first == D("8.00")


def test_fixed_amount_at_most_the_price():
    fixed = unsaved("F", "fixed", "5.00", recurring=True)
    assert discount_for(fixed, D("12.00"), D("10.00")) == Discount(D("5.00"), D("5.00"))
    assert discount_for(fixed, D("3.00"), D("10.00")) == Discount(D("3.00"), D("3.00"))


def test_price_override_sets_the_price_and_never_raises_it():
    override = unsaved("O", "price_override", "4.99", recurring=True)
    assert discount_for(override, D("12.00"), D("0")) == Discount(D("7.01"), D("7.01"))
    assert discount_for(override, D("3.00"), D("0")) == Discount(D("0.00"), D("0.00"))


def test_free_setup_takes_the_setup_fee_off_the_first_invoice_only():
    free_setup = unsaved("S", "free_setup", "0", recurring=True)
    assert discount_for(free_setup, D("12.00"), D("25.00")) == Discount(D("25.00"), D("0.00"))


def test_no_promotion_no_discount():
    assert discount_for(None, D("12.00"), D("25.00")) == Discount(D("0.00"), D("0.00"))


def test_recur_for_counts_renewals_after_the_first_invoice():
    # "to discount 6 times, enter 5": the first invoice plus 5 renewals
    five = unsaved("R5", "fixed", "2.00", recurring=True, recur_for=5)
    assert [renewal_amount(five, D("10.00"), done) for done in (0, 4, 5, 6)] == [
        D("8.00"), D("8.00"), D("10.00"), D("10.00")]
    forever = unsaved("RF", "fixed", "2.00", recurring=True, recur_for=0)
    assert renewal_amount(forever, D("10.00"), 500) == D("8.00")
    once = unsaved("R0", "fixed", "2.00", recurring=False)
    assert renewal_amount(once, D("10.00"), 0) == D("10.00")


def test_description_says_what_and_how_long():
    assert promotions.describe(unsaved("A", "percentage", "10.00")) == "10.00% off, first invoice only"
    assert promotions.describe(unsaved("B", "fixed", "5.00", recurring=True, recur_for=3),
                               "USD") == "$5.00 off, first invoice and 3 renewals"
    assert promotions.describe(unsaved("C", "price_override", "1.00", recurring=True)) == (
        "price 1.00, every invoice")
    assert promotions.describe(unsaved("D", "free_setup", "0")) == "free setup"


# --- uses -----------------------------------------------------------------------------------


def test_claiming_uses_stops_at_max_uses_even_with_a_stale_read(db):
    row = promo("TWO", max_uses=2)
    stale = Promotion.get_by_id(row.id)  # read while one use was still free
    promotions.claim_use(row)
    promotions.claim_use(row)
    error = refused(promotions.claim_use, stale)
    assert (error.field, error.message) == ("promo_code", "'TWO' has been used its maximum of 2 times")
    assert Promotion.get_by_id(row.id).uses == 2


def test_unlimited_code_counts_every_use(db):
    row = promo("MANY", max_uses=0)
    for _ in range(3):
        promotions.claim_use(row)
    assert Promotion.get_by_id(row.id).uses == 3
