"""Product types (issue 15: shared, reseller, server, other; vps and dedicated stay, WHMCS
imports use them): `server` is saved on both engines, through the function, the catalog
file and the database's CHECK (migration 0020); an unknown type is refused by each."""

import os

import pytest
from peewee import IntegrityError

from hostdesk.models import products
from hostdesk.models.catalog_file import CatalogFileError, apply_catalog, export_catalog
from hostdesk.models.db import MIGRATIONS_DIR, bind, database, is_sqlite, migrate
from hostdesk.models.errors import ValidationError
from hostdesk.models.schema import ActivityLog, Admin, Product, ProductPrice, Server
from tests.factories import as_login

MODULES = ("none",)
PRODUCT = {"name": "Metal One", "group_name": "Servers", "type": "server", "module": "none",
           "auto_setup": "never", "prices": {"monthly": ("99.00", "49.00")}}


@pytest.fixture
def boss(db):
    Admin.create(login="boss", role="full")


def test_a_server_product_is_saved_and_edited(boss):
    detail = products.add_product(PRODUCT, admin=as_login("boss"), modules=MODULES)
    assert Product.get_by_id(detail.id).type == "server"
    edited = products.edit_product(detail.id, detail.version, {"type": "dedicated"},
                                   admin=as_login("boss"), modules=MODULES)
    assert Product.get_by_id(detail.id).type == "dedicated"
    products.edit_product(detail.id, edited.version, {"type": "server"}, admin=as_login("boss"),
                          modules=MODULES)
    assert Product.get_by_id(detail.id).type == "server"


def test_an_unknown_type_is_refused_by_the_function_with_its_field(boss):
    with pytest.raises(ValidationError) as refused:
        products.add_product({**PRODUCT, "type": "servers"}, admin=as_login("boss"), modules=MODULES)
    assert refused.value.field == "type" and "server" in refused.value.message
    assert Product.select().count() == 0
    detail = products.add_product(PRODUCT, admin=as_login("boss"), modules=MODULES)
    logged = ActivityLog.select().count()
    with pytest.raises(ValidationError) as refused:
        products.edit_product(detail.id, detail.version, {"type": "cloud"}, admin=as_login("boss"),
                              modules=MODULES)
    assert refused.value.field == "type"
    assert Product.get_by_id(detail.id).type == "server"
    assert ActivityLog.select().count() == logged


def _raw_insert(name: str, kind: str) -> None:
    """A row written past every Python check: only the database's CHECK judges it."""
    with database.atomic():
        Product.insert(name=name, type=kind).execute()


def test_the_database_accepts_server_and_refuses_an_unknown_type(db):
    _raw_insert("Metal", "server")
    with pytest.raises(IntegrityError):
        _raw_insert("Cloud", "cloud")
    assert [p.type for p in Product.select()] == ["server"]


def test_the_catalog_file_carries_the_server_type(boss):
    products.add_product({**PRODUCT, "type": "vps"}, admin=as_login("boss"), modules=MODULES)
    exported = export_catalog()
    assert 'type = "vps"' in exported
    wanted = exported.replace('type = "vps"', 'type = "server"')
    report = apply_catalog(wanted, path="catalog.toml", admin=as_login("boss"), modules=MODULES)
    assert report.changes == ["update product Metal One: type"]
    assert Product.get().type == "server"
    assert not apply_catalog(export_catalog(), path="catalog.toml", admin=as_login("boss"),
                             modules=MODULES).changed
    broken = wanted.replace('type = "server"', 'type = "metal"')
    with pytest.raises(CatalogFileError) as refused:
        apply_catalog(broken, path="catalog.toml", admin=as_login("boss"), modules=MODULES)
    assert "type" in str(refused.value) and "catalog.toml, line" in str(refused.value)
    assert Product.get().type == "server"


def test_migration_0020_keeps_the_products_and_what_points_at_them(engine, request, tmp_path):
    """At 0019 (the old CHECK), products with prices (which cascade from the product) and a
    server; after 0020 every row is there, the references still hold, and `server` fits."""
    from playhouse.migrations import Runner

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = f"types_{os.getpid()}"
        server.admin_sql(f"CREATE DATABASE {name}")
        url = server.url(name)
    old = bind(url)
    try:
        runner = Runner(old, directory=str(MIGRATIONS_DIR))
        assert runner.up(target="0019_upgrade_paths")[-1] == "0019_upgrade_paths"
        with pytest.raises(IntegrityError):
            _raw_insert("Too early", "server")
        rack = Server.create(name="rack1")
        kept = [Product.create(name=f"Plan {n}", type=kind, server=rack)
                for n, kind in enumerate(("vps", "dedicated", "other"))]
        for product in kept:
            ProductPrice.create(product=product, cycle="monthly", price="5.00", setup_fee="1.00")
        assert migrate(old)[0] == "0020_product_type_server"  # then any later migration
        assert [(p.id, p.name, p.type, p.server_id) for p in Product.select().order_by(Product.id)] \
            == [(p.id, p.name, p.type, rack.id) for p in kept]
        assert ProductPrice.select().where(ProductPrice.product.in_(kept)).count() == 3
        assert "product_server_id" in {index.name for index in old.get_indexes("product")}
        _raw_insert("Metal", "server")
        with pytest.raises(IntegrityError):
            _raw_insert("Cloud", "cloud")
        with pytest.raises(IntegrityError):  # prices still must name a product
            with database.atomic():
                ProductPrice.insert(product=999_999, cycle="monthly", price=500).execute()
        if is_sqlite(old):
            assert old.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
            assert old.execute_sql("PRAGMA foreign_key_check").fetchall() == []
            # Deleting a product still cascades to its prices (the references were kept).
            Product.delete().where(Product.id == kept[0].id).execute()
            assert ProductPrice.select().count() == 2
    finally:
        old.close()
        database.initialize(None)
