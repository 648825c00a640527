"""Domain names for orders (rules §6, §9): IDNA-aware syntax, catalog TLDs, years, prices."""

from decimal import Decimal

import pytest

from hostdesk.models.domains import DomainAddons, check_years, domain_price, parse_domain_name, validate_domain_name
from hostdesk.models.errors import ValidationError
from tests import factories as make

D = Decimal


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- syntax (no database) -------------------------------------------------------------------


@pytest.mark.parametrize("text, ascii_name, unicode_name", [
    ("example.com", "example.com", "example.com"),
    ("  Example.COM ", "example.com", "example.com"),
    ("my-site2.co.uk", "my-site2.co.uk", "my-site2.co.uk"),
    ("bücher.de", "xn--bcher-kva.de", "bücher.de"),
    ("BÜCHER.de", "xn--bcher-kva.de", "bücher.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de", "bücher.de"),
    ("例え。jp", "xn--r8jz45g.jp", "例え.jp"),  # an ideographic full stop separates labels
    ("a" * 63 + ".com", "a" * 63 + ".com", "a" * 63 + ".com"),
])
def test_valid_names_give_their_ascii_and_unicode_forms(text, ascii_name, unicode_name):
    assert parse_domain_name(text) == (ascii_name, unicode_name)


@pytest.mark.parametrize("text, message", [
    ("", "enter a domain name, like example.com"),
    ("example", "'example' has no TLD; write it like example.com"),
    ("http://example.com", "enter only the domain name, like example.com (no http:// and no path)"),
    ("example.com/shop", "enter only the domain name"),
    ("exa mple.com", "must not contain spaces"),
    ("me@example.com", "is an email address"),
    ("example..com", "has an empty label"),
    (".example.com", "has an empty label"),
    ("-example.com", "the label '-example' must not start or end with a hyphen"),
    ("example-.com", "must not start or end with a hyphen"),
    ("ex_ample.com", "the label 'ex_ample' contains '_': only letters, digits and hyphens"),
    ("ex!ample.com", "contains '!'"),
    ("ab--cd.com", "has '--' in positions 3–4"),
    ("xn--zz.com", "the label 'xn--zz' is not valid punycode"),
    ("a" * 64 + ".com", "is longer than 63 characters"),
    (".".join(["a" * 60] * 5) + ".com", "characters long in its ASCII form; the limit is 253"),
    ("exam\tple.com", "contains a control character"),
    ("exa\u202emple.com", "contains a control character"),
])
def test_malformed_names_are_refused_with_the_reason(text, message):
    error = refused(parse_domain_name, text, "domain.name")
    assert error.field == "domain.name"
    assert message in error.message


def test_addons_chosen_keep_their_order():
    assert DomainAddons(id_protection=True, dns_management=True).chosen() == [
        "dns_management", "id_protection"]


# --- the catalog ----------------------------------------------------------------------------


def test_tld_must_be_in_the_catalog(db):
    make.tld("com")
    name, tld = validate_domain_name("Example.com")
    assert (name.ascii, name.tld, tld.name) == ("example.com", "com", "com")
    error = refused(validate_domain_name, "example.xyz")
    assert (error.field, error.message) == (
        "domain.name", "the TLD .xyz is not in the catalog (no domain pricing for it)")


def test_multi_label_tld_is_the_longest_suffix_in_the_catalog(db):
    make.tld("uk", register_price=D("5.00"))
    make.tld("co.uk", register_price=D("7.00"))
    name, tld = validate_domain_name("shop.co.uk")
    assert (name.tld, tld.register_price) == ("co.uk", D("7.00"))
    name, tld = validate_domain_name("shop.uk")
    assert name.tld == "uk"


def test_multi_label_tld_not_sold_means_a_subdomain_of_the_shorter_one(db):
    make.tld("uk")
    error = refused(validate_domain_name, "shop.co.uk")
    assert error.message == "'shop.co.uk' has a subdomain; enter the name to register, like co.uk"


def test_a_subdomain_is_refused_with_the_registrable_name(db):
    make.tld("com")
    make.tld("co.uk")
    assert refused(validate_domain_name, "www.example.com").message == (
        "'www.example.com' has a subdomain; enter the name to register, like example.com")
    assert "like example.co.uk" in refused(validate_domain_name, "www.example.co.uk").message


def test_internationalised_name_is_stored_in_ascii(db):
    make.tld("de")
    name, _ = validate_domain_name("Bücher.de")
    assert (name.ascii, name.unicode, name.shown) == (
        "xn--bcher-kva.de", "bücher.de", "bücher.de (xn--bcher-kva.de)")


def test_years_within_the_tld_range(db):
    tld = make.tld("com", min_years=2, max_years=5)
    assert check_years(tld, "2") == 2
    assert check_years(tld, 5) == 5
    for text, message in [("1", ".com can be registered for 2 to 5 years, not 1"),
                          ("6", ".com can be registered for 2 to 5 years, not 6"),
                          ("two", "'two' is not a whole number of years"),
                          ("-3", "'-3' is not a whole number of years"),
                          ("", "enter the number of years")]:
        error = refused(check_years, tld, text)
        assert (error.field, error.message) == ("domain.years", message)


def test_prices_are_per_year_with_addons_on_first_payment_and_renewal(db):
    tld = make.tld("com", register_price=D("12.00"), transfer_price=D("9.50"),
                   renew_price=D("14.00"), dns_management_price=D("1.00"),
                   email_forwarding_price=D("1.50"), id_protection_price=D("2.25"))
    price = domain_price(tld, "register", 2, DomainAddons(dns_management=True, id_protection=True))
    assert price.base_first == D("24.00")
    assert price.addons == (("DNS Management", D("2.00")), ("ID Protection", D("4.50")))
    assert (price.first, price.recurring) == (D("30.50"), D("34.50"))
    transfer = domain_price(tld, "transfer", 1)
    assert (transfer.first, transfer.recurring) == (D("9.50"), D("14.00"))


def test_overrides_replace_the_domain_price_not_the_addons(db):
    tld = make.tld("com")
    price = domain_price(tld, "register", 3, DomainAddons(email_forwarding=True),
                         first_override=D("20.00"), recurring_override=D("30.00"))
    assert (price.first, price.recurring) == (D("24.50"), D("34.50"))  # + 3 × 1.50


def test_unknown_kind_is_refused(db):
    assert refused(domain_price, make.tld("com"), "renew", 1).field == "domain.kind"
