"""Upgrade paths of the catalog (which moves a client may make itself) and their permission."""

import pytest

from hostdesk.models.cycles import Cycle
from hostdesk.models.errors import PermissionDenied, RuleViolation, StaleRecordError, ValidationError
from hostdesk.models.schema import ActivityLog, ProductUpgradePath
from hostdesk.models.upgrade_paths import (
    check_self_service,
    list_upgrade_paths,
    remove_upgrade_path,
    self_service_options,
    set_upgrade_path,
)
from tests import factories as make
from tests.factories import as_login


@pytest.fixture
def catalog(db):
    make.admin("boss", "full")
    make.admin("seller", "sales")
    make.admin("helper", "support")
    small = make.product(prices={"monthly": "10.00", "annually": "100.00"}, name="Small")
    big = make.product(prices={"monthly": "25.00", "quarterly": "70.00", "annually": "250.00",
                               "one_time": "500.00"}, name="Big")
    return small, big


def test_only_manage_catalog_may_set_or_list_paths(catalog):
    small, big = catalog
    for login in ("seller", "helper", "nobody"):
        with pytest.raises(PermissionDenied) as refused:
            set_upgrade_path(small.id, big.id, client_may_upgrade=True, admin=as_login(login))
        assert refused.value.permission == "manage catalog"
        with pytest.raises(PermissionDenied):
            list_upgrade_paths(small.id, admin=as_login(login))
    assert ProductUpgradePath.select().count() == 0


def test_set_list_change_and_remove_a_path_with_the_activity_log(catalog):
    small, big = catalog
    path = set_upgrade_path(small.id, big.id, cycles="annually, monthly", client_may_upgrade=False,
                            admin=as_login("boss"))
    assert path.cycles == (Cycle.MONTHLY, Cycle.ANNUALLY)  # calendar order, whatever typed
    assert ProductUpgradePath.get_by_id(path.id).cycles == "monthly,annually"
    changed = set_upgrade_path(small.id, big.id, cycles="", client_may_upgrade=True,
                               admin=as_login("boss"), expected_version=path.version)
    assert (changed.id, changed.cycles, changed.client_may_upgrade) == (path.id, (), True)
    assert changed.version == path.version + 1
    with pytest.raises(StaleRecordError):  # an edit opened before the change above
        set_upgrade_path(small.id, big.id, client_may_upgrade=False, admin=as_login("boss"),
                         expected_version=path.version)
    listed = list_upgrade_paths(small.id, admin=as_login("boss"))
    assert [(p.target_id, p.target_name, p.client_may_upgrade) for p in listed] == [
        (big.id, "Big", True)]
    remove_upgrade_path(small.id, big.id, admin=as_login("boss"))
    assert list_upgrade_paths(small.id, admin=as_login("boss")) == []
    actions = [row.action for row in ActivityLog.select().order_by(ActivityLog.id)]
    assert actions == ["catalog.upgrade_path", "catalog.upgrade_path",
                       "catalog.upgrade_path_remove"]


@pytest.mark.parametrize("cycles, field", [
    ("weekly", "cycles"),          # not a cycle
    ("one_time", "cycles"),        # no upgrade reaches one-time
    ("semiannually", "cycles"),    # the target has no such price
])
def test_bad_cycles_are_refused_and_nothing_written(catalog, cycles, field):
    small, big = catalog
    with pytest.raises(ValidationError) as bad:
        set_upgrade_path(small.id, big.id, cycles=cycles, client_may_upgrade=True,
                         admin=as_login("boss"))
    assert bad.value.field == field
    with pytest.raises(ValidationError) as unknown:
        set_upgrade_path(small.id, 99999, client_may_upgrade=True, admin=as_login("boss"))
    assert unknown.value.field == "target"
    assert ProductUpgradePath.select().count() == 0 and ActivityLog.select().count() == 0


def test_self_service_offers_only_paths_the_client_may_take_on_priced_cycles(catalog):
    small, big = catalog
    medium = make.product(prices={"monthly": "15.00"}, name="Medium")
    retired = make.product(prices={"monthly": "30.00"}, name="Old", retired=True)
    set_upgrade_path(small.id, big.id, cycles="", client_may_upgrade=True, admin=as_login("boss"))
    set_upgrade_path(small.id, medium.id, client_may_upgrade=False, admin=as_login("boss"))
    set_upgrade_path(small.id, retired.id, client_may_upgrade=True, admin=as_login("boss"))
    options = self_service_options(small.id)
    # Empty cycles = every recurring cycle Big has a price for (one-time is never a target).
    assert [(o.product_name, [(c.value, str(p)) for c, p in o.cycles]) for o in options] == [
        ("Big", [("monthly", "25.00"), ("quarterly", "70.00"), ("annually", "250.00")])]
    assert check_self_service(small.id, big.id, "Quarterly") is Cycle.QUARTERLY
    for target, cycle, error, field in (
            (medium.id, "monthly", RuleViolation, "product"),  # path, but not self-service
            (retired.id, "monthly", RuleViolation, "product"),
            (small.id, "annually", RuleViolation, "product"),  # no path to itself
            (big.id, "semiannually", ValidationError, "cycle"),  # no price
            (big.id, "one_time", ValidationError, "cycle"),
            (big.id, "fortnightly", ValidationError, "cycle"),
            (4242, "monthly", ValidationError, "product")):
        with pytest.raises(error) as refused:
            check_self_service(small.id, target, cycle)
        assert refused.value.field == field, (target, cycle)


def test_a_listed_cycle_is_offered_only_while_the_target_prices_it(catalog):
    small, big = catalog
    set_upgrade_path(small.id, big.id, cycles="monthly,annually", client_may_upgrade=True,
                     admin=as_login("boss"))
    with pytest.raises(RuleViolation) as refused:
        check_self_service(small.id, big.id, "quarterly")
    assert refused.value.field == "cycle"
    from hostdesk.models.schema import ProductPrice

    ProductPrice.delete().where((ProductPrice.product == big.id)
                                & (ProductPrice.cycle == "annually")).execute()
    assert [c.value for c, _ in self_service_options(small.id)[0].cycles] == ["monthly"]
