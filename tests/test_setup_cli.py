"""The headless setup commands (issue 15): `client add|edit|show`, `import clients`,
`catalog export` and `catalog apply`, run in process on a real SQLite file, and once in a
subprocess to show they never import the TUI framework."""

import json
import os
import subprocess
import sys

import pytest

from hostdesk.automation.identity import OsAccount
from hostdesk.models import clients
from hostdesk.models.db import database
from hostdesk.models.schema import ActivityLog, Client, Product, ProductPrice, Promotion
from hostdesk.tui import cli
from hostdesk.tui.cli import main
from tests.factories import as_login


# The OS account that runs these commands: the database's first admin, with the full role.
BOSS = OsAccount(uid=os.getuid(), login="boss")


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["--db", url, "init"], os_account=BOSS) == 0
    yield url
    if not database.is_closed():
        database.close()


def run(url, capsys, *args):
    code = main(["--db", url, *args], os_account=BOSS)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_client_fields_flags_match_the_model():
    assert cli.CLIENT_FIELDS == clients.FIELDS


def test_client_add_edit_show_with_json(url, capsys):
    code, out, err = run(url, capsys, "client", "add", "--first-name", "Ada", "--last-name",
                         "Lovelace", "--email", "ada@example.com", "--country", "gb", "--json")
    assert code == 0, err
    added = json.loads(out)
    assert (added["country"], added["credit"], added["version"]) == ("GB", "0.00", 1)
    code, out, err = run(url, capsys, "client", "add", "--first-name", "Ada", "--last-name",
                         "Twin", "--email", "ada@example.com")
    assert code == 2 and "--allow-duplicate-email" in err
    code, out, err = run(url, capsys, "client", "edit", str(added["id"]), "--city", "Leeds",
                         "--country", "Narnia", "--phone", "no phone")
    assert code == 2 and "country" in err and "phone" in err
    code, out, err = run(url, capsys, "client", "edit", str(added["id"]), "--city", "Leeds",
                         "--version", "1", "--json")
    assert code == 0 and json.loads(out)["city"] == "Leeds"
    code, out, err = run(url, capsys, "client", "edit", str(added["id"]), "--city", "York",
                         "--version", "1")
    assert code != 0 and "changed by someone else" in err
    code, out, err = run(url, capsys, "client", "show", str(added["id"]))
    assert code == 0 and "Ada Lovelace" in out and "credit" in out


def test_import_clients_reports_lines_and_adds_a_thousand_in_one_go(url, capsys, tmp_path):
    path = tmp_path / "clients.csv"
    rows = ["first_name,last_name,email,country"]
    rows += [f"F{i},L{i},c{i}@example.com,NL" for i in range(1000)]
    rows.insert(3, "Bad,Row,broken,NL")  # line 4
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run(url, capsys, "import", "clients", str(path), "--dry-run")
    assert code == 1 and "rows read 1001, would add 1000, refused 1" in out
    assert "line 4: email" in out
    code, out, err = run(url, capsys, "import", "clients", str(path), "--json")
    report = json.loads(out)
    assert report["added"] == 1000 and report["refused"][0]["line"] == 4
    database.connect(reuse_if_open=True)
    assert Client.select().count() == 1000


def _catalog(url, capsys):
    from hostdesk.models import catalog, products, promotion_setup, tlds

    database.connect(reuse_if_open=True)
    catalog.add_server({"name": "web1", "hostname": "web1.example.net",
                        "settings": "user=root\npassword=hunter2"},
                       admin=as_login("boss"), modules=("none",))
    product = products.add_product(
        {"name": "Starter", "module": "none", "server": "web1", "welcome_email": "welcome_shared",
         "prices": {"monthly": ("3.99", "5.00"), "annually": "39.00"}},
        admin=as_login("boss"), modules=("none",))
    products.add_config_option(product.id, product.version, {
        "name": "Disk", "choices": [{"name": "10 GB", "prices": {"monthly": "0"}},
                                    {"name": "50 GB", "prices": {"monthly": "2.00"}}]},
        admin=as_login("boss"))
    promotion_setup.add_promotion({"code": "HELLO", "type": "percentage", "value": "10",
                                   "products": "Starter"}, admin=as_login("boss"))
    tlds.add_tld({"name": ".com", "register_price": "12.00", "transfer_price": "10.00",
                  "renew_price": "14.00"}, admin=as_login("boss"))
    database.close()


def test_exporting_then_applying_the_catalog_changes_nothing(url, capsys, tmp_path):
    _catalog(url, capsys)
    code, exported, err = run(url, capsys, "catalog", "export")
    assert code == 0, err
    assert "hunter2" not in exported and 'password = "[secret]"' in exported
    assert 'monthly = { price = "3.99", setup_fee = "5.00" }' in exported
    path = tmp_path / "catalog.toml"
    path.write_text(exported)
    database.connect(reuse_if_open=True)
    logged = ActivityLog.select().count()
    database.close()
    code, out, err = run(url, capsys, "catalog", "apply", str(path))
    assert code == 0, err
    assert "no change" in out
    database.connect(reuse_if_open=True)
    assert ActivityLog.select().count() == logged
    database.close()
    # A reviewed change: a new price, a new promotion; dry run first.
    changed = exported.replace('annually = { price = "39.00"', 'annually = { price = "36.00"')
    changed += '\n[[promotions]]\ncode = "LOYAL"\ntype = "fixed"\nvalue = "2.00"\n'
    path.write_text(changed)
    code, out, err = run(url, capsys, "catalog", "apply", str(path), "--dry-run")
    assert code == 0 and "would change 2" in out and "update product Starter: prices" in out
    database.connect(reuse_if_open=True)
    assert Promotion.select().count() == 1
    database.close()
    code, out, err = run(url, capsys, "catalog", "apply", str(path))
    assert code == 0 and "changed 2" in out
    database.connect(reuse_if_open=True)
    assert ProductPrice.get(ProductPrice.cycle == "annually").price == 36
    assert Promotion.select().count() == 2
    database.close()


def test_a_broken_catalog_file_names_file_line_and_field_and_writes_nothing(url, capsys, tmp_path):
    _catalog(url, capsys)
    code, exported, err = run(url, capsys, "catalog", "export")
    lines = exported.splitlines()
    target = next(n for n, line in enumerate(lines) if line.startswith("monthly = { price"))
    lines[target] = 'monthly = { price = "-3.99", setup_fee = "5.00" }'
    lines.append("")
    lines.append("[[products]]")
    lines.append('name = "Second"')
    path = tmp_path / "broken.toml"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(url, capsys, "catalog", "apply", str(path))
    assert code == 2
    assert f"broken.toml, line {target + 1}" in err
    assert "prices.monthly.price" in err and "negative" in err
    database.connect(reuse_if_open=True)
    assert Product.select().count() == 1
    assert ProductPrice.get(ProductPrice.cycle == "monthly").price == ProductPrice.price.python_value(399)
    database.close()
    path.write_text('[[products]]\nname = "X"\nprices = { monthly = 3.99 }\n')
    code, out, err = run(url, capsys, "catalog", "apply", str(path))
    assert code == 2 and "line 3" in err and "float" in err
    path.write_text("[[products]\nname = 1\n")
    code, out, err = run(url, capsys, "catalog", "apply", str(path))
    assert code == 2 and "line 1" in err and "not valid TOML" in err


def test_support_may_not_apply_a_catalog(url, capsys, tmp_path):
    database.connect(reuse_if_open=True)
    from hostdesk.models.schema import Admin
    Admin.create(login="helpdesk", role="support")
    database.close()
    path = tmp_path / "c.toml"
    path.write_text('[[payment_methods]]\nname = "stripe"\n')
    code = main(["--db", url, "catalog", "apply", str(path)],
                os_account=OsAccount(uid=os.getuid(), login="helpdesk"))
    assert code == 4 and "manage catalog" in capsys.readouterr().err


def test_setup_commands_never_import_textual(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code = (
        "import sys\n"
        "from hostdesk.automation.identity import OsAccount\n"
        "from hostdesk.tui.cli import main\n"
        f"BOSS = OsAccount(uid={os.getuid()}, login='boss')\n"
        f"main(['--db', {url!r}, 'init'], os_account=BOSS)\n"
        f"assert main(['--db', {url!r}, 'client', 'add', '--first-name', 'A',"
        " '--last-name', 'B', '--email', 'a@example.com'], os_account=BOSS) == 0\n"
        f"assert main(['--db', {url!r}, 'catalog', 'export'], os_account=BOSS) == 0\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print('IMPORTED:' + ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "IMPORTED:"
