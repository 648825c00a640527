"""The `hostdesk` command. Textual is imported only by the commands that open the TUI, so
`hostdesk cron` and the other headless commands stay light and safe for cron.

The acting admin is the OS account running the command, looked up by uid (`--login` lets a
`full` admin act as another). Every error reaches the user as one line and an exit status:
0 ok, 1 a task failed, 2 bad input or configuration, 3 another run holds the lock, 4 refused
by a rule or a permission, 5 the database is unavailable.
"""

import argparse
import atexit
import gc
import json
import logging
import os
import sys
import textwrap
import threading

import hostdesk.models  # noqa: F401 - before pendulum: see models/__init__.py
import pendulum

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY, EXIT_REFUSED, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5
EXIT_NO_DATABASE = EXIT_UNAVAILABLE

# The headless interface a client portal and payment gateways call (README "Headless
# commands"): each acts for one client, and keeps textual and the email templates out of
# its imports (the look-ups import neither jinja2 nor cryptography).
LOOKUP_COMMANDS = frozenset({"client", "service", "invoice"})
HEADLESS_COMMANDS = LOOKUP_COMMANDS | {"upgrade-request", "payment-received", "cancel-request"}
FAR_DATE_DAYS = 3  # a --date further from today than this needs --allow-far-date
EXPORT_LISTS = ("services", "clients", "invoices", "domains", "activity")  # hostdesk.models.export.CLI_LISTS
# The client fields as flags (kept in step with hostdesk.models.clients.FIELDS by a test; the list is
# here so that `hostdesk --help` needs no database module).
CLIENT_FIELDS = ("first_name", "last_name", "company", "email", "phone", "address", "address2",
                 "city", "region", "postcode", "country", "tax_id", "group", "separate_invoices",
                 "default_payment_method", "status", "notes")


GLOBAL_DEFAULTS = {"db": None, "config": None, "login": None, "log_level": None,
                   "log_file": None, "log_format": "text"}


def _global_options() -> argparse.ArgumentParser:
    """The options every command takes, before or after the command's name (`hostdesk cron
    --db URL` as well as `hostdesk --db URL cron`). Their defaults are filled in after
    parsing: a subcommand's parser would otherwise reset what was given before it."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("global options")
    group.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                       help="database URL: sqlite:///PATH or postgresql://USER@HOST/NAME "
                            "(default: HOSTDESK_DB, the config file, or a SQLite file in "
                            "your data directory)")
    group.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                       help="config file (default: ./hostdesk.toml, then your user config, "
                            "then /etc/hostdesk/hostdesk.toml)")
    group.add_argument("--login", metavar="LOGIN", default=argparse.SUPPRESS,
                       help="act as this admin (full admins only; logged as 'you acting as "
                            "LOGIN'; default: your OS user)")
    group.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       default=argparse.SUPPRESS,
                       help="least severe messages logged (default: info to a file, "
                            "warning to the terminal)")
    group.add_argument("--log-file", metavar="PATH", default=argparse.SUPPRESS,
                       help="append the log to this file (the TUI always logs to a file: "
                            "by default hostdesk.log in your log directory)")
    group.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                       help="text lines, or JSON lines for log collectors (default text)")
    return options


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions; keeps the examples' lines (indented) as written."""

    def _fill_text(self, text, width, indent):
        return "\n".join(line if line.startswith("  ") else
                         textwrap.fill(line, width, initial_indent=indent,
                                       subsequent_indent=indent)
                         for line in text.splitlines())


def _command(sub, name: str, help: str, description: str, example: str, parents):
    return sub.add_parser(name, help=help, description=description,
                          epilog="example:\n  " + example, parents=parents,
                          formatter_class=_HelpFormatter)


class _VersionAction(argparse.Action):
    """`--version`: the installed version, looked up only when asked (importlib.metadata
    costs a headless command more than its query)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("hostdesk")
        except PackageNotFoundError:
            installed = "unknown (not installed)"
        print(f"hostdesk {installed}")
        parser.exit()


class _Unused:
    """Stands for the parser of a command that is not being run: whatever is added to it
    is dropped."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


class _OneCommand:
    """The subcommands action, building only the parser of the command named on the command
    line (`found` tells whether it was one): a headless command answering a web request does
    not pay for building the thirty others."""

    def __init__(self, sub, name: str):
        self.sub, self.name, self.found = sub, name, False

    def add_parser(self, name, **kwargs):
        if name != self.name:
            return _Unused()
        self.found = True
        return self.sub.add_parser(name, **kwargs)


def _parser(only: str | None = None,
            action: str | None = None) -> argparse.ArgumentParser | None:
    """The whole command line, or with `only` the parser of that one command, and with
    `action` of that one action of a look-up (`client show`: not `client add` and `edit`'s
    every field); None when `only` or `action` is not one."""
    common = [_global_options()]
    parser = argparse.ArgumentParser(
        prog="hostdesk", parents=common,
        description="Keyboard-driven terminal admin for hosting providers. Without a command "
                    "it opens the TUI.",
        epilog="examples:\n  hostdesk init\n  hostdesk\n  hostdesk cron --db "
               "postgresql://hostdesk@db/hostdesk --log-file /var/log/hostdesk/cron.log",
        formatter_class=_HelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    one_action = None
    if only is not None:
        sub = _OneCommand(sub, only)

    _command(sub, "init", "create or upgrade the database schema",
             "Create the database, or apply the migrations it lacks. On an empty database "
             "you (or --login) become its first admin, with the 'full' role.",
             "hostdesk --db sqlite:////var/lib/hostdesk/hostdesk.db init", common)

    demo = _command(sub, "demo", "fill the database with demo data and open the TUI",
                    "Fill the database with a realistic demo host (clients, services, "
                    "invoices, orders), then open the TUI on it.",
                    "hostdesk --db sqlite:///demo.db demo --seed 7 --clients 50", common)
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--clients", type=int, default=200, help="number of clients (default 200)")
    demo.add_argument("--no-open", action="store_true", help="only build the data")

    cron = _command(sub, "cron", "the daily run (invoices, reminders, suspensions, ...)",
                    "The unattended daily run: renewal invoices, reminders, cancellations, "
                    "suspensions and terminations, the module queue, email delivery. Exit "
                    "status 0 when every task succeeded, 1 when one failed, 3 when another "
                    "run holds the lock.",
                    "hostdesk cron --json --log-file /var/log/hostdesk/cron.log "
                    "--log-format json", common)
    cron.add_argument("--date", metavar="YYYY-MM-DD", help="run as of this day (default today)")
    cron.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    cron.add_argument("--json", action="store_true", help="print a machine-readable report")
    cron.add_argument("--no-email", action="store_true", help="queue no emails in this run")
    cron.add_argument("--workers", type=int, default=1, metavar="N",
                      help="share the invoicing among N processes (PostgreSQL; default 1)")
    cron.add_argument("--join", action="store_true",
                      help="help the daily run in progress with its invoicing (e.g. from "
                           "another machine), then exit")
    cron.add_argument("--allow-far-date", action="store_true",
                      help=f"allow a --date more than {FAR_DATE_DAYS} days from today")
    cron.add_argument("--confirm-terminations", type=int, metavar="RUN_ID",
                      help="perform the terminations the termination guard held back in "
                           "that run (needs 'run daily tasks')")

    cancel = _command(sub, "cancel-request", "file a cancellation request for a client's "
                      "service (headless)",
                      "File a cancellation request for a client's service, as a client portal "
                      "would: its unpaid lines are cancelled and the admins notified.",
                      'hostdesk cancel-request 1042 --client 17 --type end_of_period '
                      '--reason "moving away" --via portal --json', common)
    cancel.add_argument("service_id", metavar="SERVICE_ID")
    _client_arguments(cancel)
    cancel.add_argument("--type", required=True, choices=["immediate", "end_of_period"],
                        dest="cancel_type")
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--domain-auto-renew-off", action="store_true",
                        help="also turn off auto-renew of the service's domain")

    upgrade = _command(sub, "upgrade-request", "quote or order a client's self-service "
                       "upgrade or downgrade (headless)",
                       "Quote a client's upgrade or downgrade (rules §7) and, without "
                       "--quote-only, order it: an upgrade order and invoice, applied when "
                       "the invoice is paid. Only to products and cycles the product lets "
                       "clients move to themselves.",
                       "hostdesk upgrade-request 1042 --client 17 --product 5 --cycle monthly "
                       "--quote-only --json", common)
    upgrade.add_argument("service_id", metavar="SERVICE")
    _client_arguments(upgrade)
    upgrade.add_argument("--product", required=True, metavar="P", help="target product id")
    upgrade.add_argument("--cycle", required=True, metavar="C", help="target billing cycle")
    upgrade.add_argument("--quote-only", action="store_true",
                         help="show the quote, order nothing")
    upgrade.add_argument("--date", metavar="YYYY-MM-DD",
                         help="quote as of this day (default today)")

    payment = _command(sub, "payment-received", "record a gateway's payment on a client's "
                       "invoice (headless)",
                       "Record a payment a gateway reports. A retried callback with the same "
                       "reference is reported as a duplicate and changes nothing; money beyond "
                       "the balance becomes client credit; the module commands it makes due "
                       "(unsuspend, change package) run at once.",
                       "hostdesk payment-received 5521 --client 17 --amount 12.50 --method card "
                       "--ref ch_3Nx --via stripe --json", common)
    payment.add_argument("invoice_id", metavar="INVOICE")
    _client_arguments(payment)
    payment.add_argument("--amount", required=True, metavar="A")
    payment.add_argument("--method", required=True, metavar="M", help="payment method")
    payment.add_argument("--ref", required=True, metavar="REF",
                         help="the gateway's transaction reference (a retry with it is a "
                              "duplicate)")
    payment.add_argument("--date", metavar="YYYY-MM-DD", help="day of the payment (default today)")
    payment.add_argument("--fee", metavar="F", help="the gateway's fee, kept with the payment")

    for noun, helptext in (("client", "a client"), ("service", "a client's service"),
                           ("invoice", "a client's invoice")):
        group = _command(sub, noun, f"look up {helptext} (headless)",
                         f"Look up {helptext} as JSON or text, read-only.",
                         f"hostdesk {noun} show 17" + ("" if noun == "client" else
                                                       " --client 17") + " --json", common)
        actions = group.add_subparsers(dest="action", metavar="ACTION")
        if noun == only and action is not None:
            actions = one_action = _OneCommand(actions, action)
        show = _command(actions, "show", f"show {helptext}",
                        f"Show {helptext} for a client portal: read-only, never a password.",
                        f"hostdesk {noun} show 17 --json", common)
        show.add_argument("record_id", metavar="ID")
        _client_arguments(show, client_required=noun != "client")
        if noun == "client":
            _client_editing(actions, common)

    backup = _command(sub, "backup", "copy the database consistently, even while in use",
                      "Copy a SQLite database consistently while admins and the daily run "
                      "keep working (on PostgreSQL it names the pg_dump command to use).",
                      "hostdesk backup /var/backups/hostdesk-$(date +%F).db", common)
    backup.add_argument("file", metavar="FILE")
    restore = _command(sub, "restore", "replace the database with a backup",
                       "Replace every record of the database with those of a backup.",
                       "hostdesk restore /var/backups/hostdesk-2026-03-01.db --yes", common)
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    importing = _command(sub, "import", "import clients from a file, or a host from WHMCS",
                         "Import clients from a CSV file whose header row names the fields (the "
                         "report names each refused row by line), or a whole host from WHMCS.",
                         "hostdesk import clients clients.csv --dry-run", common)
    import_sub = importing.add_subparsers(dest="import_command", metavar="WHAT")
    import_clients = _command(import_sub, "clients", "import clients from a CSV file (a header "
                              "row names the fields)",
                              "Import clients from a CSV file in one transaction: every row is "
                              "checked, and a refused row is named by its line and field.",
                              "hostdesk import clients clients.csv --json", common)
    import_clients.add_argument("file", metavar="FILE.csv")
    import_clients.add_argument("--dry-run", action="store_true",
                                help="check every row and report, add nothing")
    import_clients.add_argument("--allow-duplicate-email", action="store_true")
    import_clients.add_argument("--json", action="store_true")
    whmcs = _command(import_sub, "whmcs", "import a WHMCS 8 database (read-only), reconciled "
                     "to the cent; rerun to update",
                     "Bring a host over from WHMCS 8: clients, catalog, services, domains, "
                     "invoices, payments and credit, reconciled to the cent. The WHMCS database "
                     "is only read; running it again updates what changed and adds what is new.",
                     "hostdesk import whmcs --from mysql://reader:secret@127.0.0.1:3306/whmcs "
                     "--dry-run", common)
    whmcs.add_argument("--from", dest="source_url", required=True, metavar="URL",
                       help="mysql://USER:PASSWORD@HOST:3306/DATABASE (a user with SELECT only "
                            "is enough)")
    whmcs.add_argument("--dry-run", action="store_true",
                       help="rehearse: read, map, write and reconcile, then roll it all back")
    whmcs.add_argument("--json", action="store_true", help="print a machine-readable report")
    whmcs.add_argument("--currency", metavar="CODE",
                       help="the one currency to import when WHMCS bills in several")

    catalog = _command(sub, "catalog", "the catalog as a TOML file",
                       "Export the whole catalog as one readable TOML file, or make the "
                       "catalog match such a file (the difference shown, applied in one "
                       "transaction).", "hostdesk catalog export > catalog.toml", common)
    catalog_sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION")
    _command(catalog_sub, "export", "print the whole catalog as TOML",
             "Print the whole catalog (products, prices, options, addons, promotions, TLDs, "
             "servers without secrets, payment methods, template overrides) as TOML.",
             "hostdesk catalog export > catalog.toml", common)
    apply = _command(catalog_sub, "apply", "make the catalog match a TOML file",
                     "Make the catalog match a TOML file: the difference is shown and applied "
                     "in one transaction; an error names the file, line and field.",
                     "hostdesk catalog apply catalog.toml --dry-run", common)
    apply.add_argument("file", metavar="FILE.toml")
    apply.add_argument("--dry-run", action="store_true", help="show the difference, change nothing")

    export = _command(sub, "export", "write a list (services, clients, ...) as CSV or JSON",
                      "Write every row of a list, as the TUI's list shows it (newest first, "
                      "the search applied), as CSV or JSON. Rows are read a page at a time, "
                      "so any size takes little memory. Without --output it writes to "
                      "standard output.",
                      "hostdesk export services --filter rossi --format csv "
                      "--output services.csv", common)
    export.add_argument("list", choices=EXPORT_LISTS, help="which list")
    export.add_argument("--filter", default="", metavar="TEXT",
                        help="the list's search, as typed after / in the TUI")
    export.add_argument("--format", required=True, choices=("csv", "json"))
    export.add_argument("--output", metavar="FILE", help="write here (default standard output)")

    key = _command(sub, "key", "the secret key that encrypts stored passwords",
                   "Manage the secret key that encrypts stored passwords and module secrets.",
                   "hostdesk key rotate --new-key-file /etc/hostdesk/new.key", common)
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION")
    rotate = _command(key_sub, "rotate", "re-encrypt every stored secret with a new key "
                      "(resumable)",
                      "Re-encrypt every stored secret with a new key, in batches; stopped "
                      "half-way, running it again finishes it.",
                      "hostdesk key rotate --new-key-file /etc/hostdesk/new.key", common)
    rotate.add_argument("--new-key-file", required=True, metavar="PATH",
                        help="file holding the new key; created with a random key if missing")

    config = _command(sub, "config", "show the resolved configuration",
                      "Show the configuration hostdesk resolves from the environment, the "
                      "config files and the defaults.", "hostdesk config show", common)
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    _command(config_sub, "show", "print every setting, its value and where it came from",
             "Print every setting, its value and where it came from (secrets masked).",
             "hostdesk --config /etc/hostdesk/hostdesk.toml config show", common)

    db = _command(sub, "db", "database information",
                  "Information about the database.", "hostdesk db status --json", common)
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    status = _command(db_sub, "status",
                      "schema version, pending migrations, size and the last daily run",
                      "Show the schema version, the migrations not yet applied, the "
                      "database's size and the last daily run (read-only).",
                      "hostdesk db status --json", common)
    status.add_argument("--json", action="store_true", help="print it as JSON")

    completion = _command(sub, "completion", "print a shell completion script",
                          "Print the completion script for bash, zsh or fish.",
                          "hostdesk completion bash > /etc/bash_completion.d/hostdesk\n"
                          "  hostdesk completion zsh > ~/.zfunc/_hostdesk\n"
                          "  hostdesk completion fish > ~/.config/fish/completions/hostdesk.fish",
                          common)
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    if only is not None and not sub.found or one_action is not None and not one_action.found:
        return None
    return parser


def _client_editing(actions, common) -> None:
    """`hostdesk client add|edit`: every client field as a flag (issue 15)."""
    for action, text, example in (
            ("add", "add a client", "hostdesk client add --first-name Ada --last-name Lovelace "
                                    "--email ada@example.com --country GB --json"),
            ("edit", "edit a client's fields", "hostdesk client edit 17 --city Leeds "
                                               "--version 3")):
        one = _command(actions, action, text,
                       f"{text[0].upper()}{text[1:]}: each field checked, the change in the "
                       "activity log; needs 'manage clients'.", example, common)
        if action == "edit":
            one.add_argument("record_id", metavar="CLIENT_ID")
            one.add_argument("--version", type=int, metavar="N",
                             help="refuse the save if the client changed since version N")
        for name in CLIENT_FIELDS:
            one.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}", metavar="TEXT")
        one.add_argument("--allow-duplicate-email", action="store_true",
                         help="add or save even when another client has this email")
        one.add_argument("--json", action="store_true", help="print the client as JSON")


def _client_arguments(parser, *, client_required: bool = True) -> None:
    if client_required:
        parser.add_argument("--client", required=True, metavar="ID",
                            help="the client the request is for; another client's records are "
                                 "refused")
    parser.add_argument("--via", default="cli", metavar="NAME",
                        help="the calling integration, named in the activity log (e.g. portal, "
                             "stripe; default cli)")
    parser.add_argument("--json", action="store_true", help="print JSON (see the README)")


# The global options that take a value (`--db URL`), so that the value is not read as the
# command's name.
_VALUE_OPTIONS = ("--db", "--config", "--login", "--log-level", "--log-file", "--log-format")


def _named_command(argv: list[str], skip: int = 0) -> str | None:
    """The first word of `argv` that is not an option or an option's value (after `skip`
    such words: 1 for a look-up's action), when no -h, --help or --version comes before it
    (those need the whole command line)."""
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help", "--version", "--"):
            return None
        if word.startswith("--") and "=" not in word:
            if any(option.startswith(word) for option in _VALUE_OPTIONS):  # also abbreviated
                next(words, None)
            continue
        if not word.startswith("-"):
            if not skip:
                return word
            skip -= 1
    return None


def parse_args(argv=None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = _named_command(argv)
    action = _named_command(argv, skip=1) if named in LOOKUP_COMMANDS else None
    parser = (_parser(named, action) if named else None) or _parser()
    args = parser.parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    logging.getLogger("hostdesk.cli").error("%s", message, extra={"exit_status": code})
    print(f"hostdesk: {message}", file=sys.stderr)
    return code


def _load(args):
    from hostdesk.automation.config import load_config

    return load_config(args.config, args.db)


def _open_database(config, *, create: bool = False, check_key: bool = True):
    """Bind the models to the configured database; refuse an un-migrated one unless creating,
    and one whose secrets were written with another key. Only `create` makes a new file."""
    from hostdesk.models import keyring, secrets
    from hostdesk.models.db import bind, connect_url, migrate, pending_migrations, redact_url

    db = bind(connect_url(config.database_url, create=create))
    db.connect(reuse_if_open=True)
    if create:
        migrate(db)
    elif pending_migrations(db):
        db.close()
        raise SystemExit(_fail(
            f"the database at {redact_url(config.database_url)} is not initialised or is out "
            "of date: run 'hostdesk init' first", EXIT_USAGE))
    if check_key and secrets.is_configured():
        keyring.check_key()
    return db


def _identity(args, account):
    """The acting admin (the models are bound): the OS account, or whom a full admin acts as."""
    from hostdesk.models import audit
    from hostdesk.models.admins import resolve_identity

    identity = resolve_identity(account.login, args.login)
    audit.set_operator(account.login)
    return identity


def _acting_admin(args, account):
    """The acting Admin the models' functions take (see `_identity`)."""
    from hostdesk.models.admins import acting_admin

    return acting_admin(_identity(args, account))


def _require_secret_key(config) -> None:
    from hostdesk.models import secrets

    if not config.secret_key:
        raise SystemExit(_fail(str(secrets.MissingSecretKey())))


def _ensure_secret_key(config):
    """init/demo (the database bound): adopt the configured key, or on a database without
    secrets generate a private key file. Never a second key for a database with secrets."""
    from dataclasses import replace

    from hostdesk.automation.config import write_key_file
    from hostdesk.models import keyring, secrets

    if not config.secret_key:
        if keyring.holds_secrets():
            known = keyring.stored_fingerprint()
            raise keyring.KeyMismatch(
                "this database already holds secrets" + (f" (key {known})" if known else "")
                + ": configure its key (secret_key in hostdesk.toml or HOSTDESK_SECRET_KEY); "
                  "no new key was generated")
        key = secrets.new_key()
        path = write_key_file(key)
        print(f"generated a secret key in {path} (keep it: it decrypts stored passwords)")
        secrets.configure(key)
        config = replace(config, secret_key=key)
    keyring.adopt_key()
    return config


def _require_full(identity, what: str) -> None:
    from hostdesk.models.permissions import find_admin
    from hostdesk.models.errors import PermissionDenied

    admin = find_admin(identity.login)
    if admin is None or not admin.active or admin.role != "full":
        raise PermissionDenied(f"{what} (full role)", identity.login)


def cmd_init(args, config, account) -> int:
    from hostdesk.models.admins import ensure_first_admin, has_admins
    from hostdesk.models.db import redact_url
    from hostdesk.models.invoicing import adopt_currency

    from hostdesk.models.db import bind, connect_url, migrate

    db = bind(connect_url(config.database_url, create=True))
    db.connect(reuse_if_open=True)
    existing = has_admins()
    if existing:  # checked before the schema is touched
        _require_full(_identity(args, account), "initialise an existing database")
    migrate(db)
    identity = _identity(args, account)
    config = _ensure_secret_key(config)
    admin = ensure_first_admin(identity.login)
    adopted = adopt_currency(config.settings.currency)
    from hostdesk.automation.provisioning.registry import secret_settings
    from hostdesk.models.catalog import encrypt_clear_secrets

    encrypted = encrypt_clear_secrets(secret_settings())
    if encrypted:
        print(f"encrypted the secret settings of {encrypted} servers/products stored in clear")
    print(f"database ready: {redact_url(config.database_url)}")
    if adopted:
        print(f"{adopted} existing invoices recorded in {config.settings.currency}")
    if admin is not None:
        print(f"admin '{admin.login}' created with the 'full' role")
    db.close()
    return EXIT_OK


def cmd_key_rotate(args, config, account) -> int:
    from pathlib import Path

    from hostdesk.automation.config import check_trusted_file, write_private_file
    from hostdesk.models import keyring, runlock, secrets
    from hostdesk.models.errors import RunInProgress
    from hostdesk.models.permissions import BACKUP_RESTORE, require

    _require_secret_key(config)
    db = _open_database(config, check_key=False)
    require(_acting_admin(args, account), BACKUP_RESTORE)
    path = Path(args.new_key_file).expanduser()
    if path.exists():
        check_trusted_file(path, private=True)
        new_key = path.read_text().strip()
    else:
        new_key = secrets.new_key()
        write_private_file(path, new_key)
        print(f"generated a new secret key in {path}")
    secrets.check_strength(new_key)
    acquired, current = runlock.acquire()
    if not acquired:
        raise RunInProgress(f"a daily run is in progress ({current.holder}); rotate the key "
                            "when it has finished")
    try:
        count = keyring.rotate(config.secret_key, new_key)
    finally:
        runlock.release()
        db.close()
    print(f"re-encrypted {count} secrets; the database's key is now {secrets.fingerprint(new_key)}")
    print(f"configure the key in {path} as secret_key (the old key no longer reads them)")
    return EXIT_OK


def cmd_cron(args, config, account) -> int:
    from hostdesk.automation.cron import run_daily
    from hostdesk.models.clock import Clock
    from hostdesk.models.errors import RunInProgress
    from hostdesk.models.parsing import parse_date

    _require_secret_key(config)
    clock = Clock(config.settings.timezone)
    if args.date is not None:
        try:
            day = parse_date(args.date, "--date")
        except Exception as exc:
            return _fail(str(exc))
        distance = abs((day - clock.today()).days)
        if distance > FAR_DATE_DAYS and not args.dry_run and not args.allow_far_date:
            return _fail(f"--date {day.isoformat()} is {distance} days from today "
                         f"({clock.today().isoformat()}); a run as of that day could suspend "
                         "and terminate services that are not due. Check the date, try "
                         "--dry-run, or add --allow-far-date if you mean it")
        clock = clock.on(day)
    db = _open_database(config)
    from hostdesk.automation.identity import require_daily_run
    from hostdesk.models import keyring

    require_daily_run(_identity(args, account), account, config.database_url)
    if not args.dry_run:
        keyring.adopt_key()
    if args.confirm_terminations is not None:
        return _confirm_terminations(args, config, db, account)
    if args.join:
        return _join_run(args, config, db)
    progress = _terminal_progress() if sys.stderr.isatty() and not args.json else None
    try:
        report = run_daily(config.settings, clock, dry_run=args.dry_run,
                           send_emails=not args.no_email, progress=progress,
                           workers=args.workers, database_url=config.database_url)
    except RunInProgress as exc:
        return _fail(str(exc), EXIT_BUSY)
    finally:
        db.close()
    if args.json:
        print(report.to_json())
    else:
        _print_summary(report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _confirm_terminations(args, config, db, account) -> int:
    from hostdesk.automation.cron import confirm_terminations
    from hostdesk.models.errors import RunInProgress

    try:
        outcome = confirm_terminations(args.confirm_terminations,
                                       admin=_acting_admin(args, account),
                                       settings=config.settings)
    except RunInProgress as exc:
        return _fail(str(exc), EXIT_BUSY)
    finally:
        db.close()
    print(f"daily run #{outcome.run_id}: {len(outcome.terminated)} terminated, "
          f"{len(outcome.failed)} failed, {len(outcome.skipped)} no longer due")
    for failure in outcome.failed[:20]:
        print(f"    {failure['item']}: {failure['error']}")
    for skipped in outcome.skipped[:20]:
        print(f"    {skipped['item']}: skipped, {skipped['reason']}")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _join_run(args, config, db) -> int:
    from hostdesk.automation.cron import join_run

    try:
        run_id, share = join_run(config.settings, send_emails=not args.no_email)
    finally:
        db.close()
    logging.getLogger("hostdesk.cron").info(
        "joined daily run #%s: %s invoices", run_id, share.done if run_id else 0,
        extra={"run_id": run_id, "failed": len(share.failures)})
    if run_id is None:
        print("no daily run in progress has invoicing left to share")
        return EXIT_OK
    print(f"helped daily run #{run_id}: {share.done} invoices, {share.details['lines']} lines")
    for failure in share.failures[:20]:
        print(f"    {failure['item']}: {failure['error']}")
    return EXIT_OK if share.ok else EXIT_FAILED


def _terminal_progress():
    def show(task: str, done: int, total: int | None) -> None:
        if total:
            width = 30
            filled = int(width * done / total) if total else width
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{task:<14} [{bar}] {done}/{total}")
        else:
            sys.stderr.write(f"\r{task:<14} {done}")
        sys.stderr.flush()
        if total and done >= total:
            sys.stderr.write("\n")
    return show


def _print_summary(report) -> None:
    mode = " (dry run: nothing was changed)" if report.dry_run else ""
    print(f"daily run for {report.date}{mode}")
    for name, result in report.tasks.items():
        state = "ok" if not result["failures"] else f"{len(result['failures'])} failed"
        print(f"  {name:<14} {result['done']:>8}  {state}")
        for failure in result["failures"][:20]:
            print(f"      {failure['item']}: {failure['error']}")
    if report.held_terminations:
        held = report.tasks.get("terminations", {}).get("details", {})
        print(f"termination guard: {held.get('why', '')}; nothing was terminated")
        if held.get("confirm"):
            print(f"  {held.get('admins_alerted', 0)} admins alerted; to perform them: "
                  f"{held['confirm']}")
    if report.stopped:
        ran = [name for name in report.tasks]
        print(f"the run stopped early: {report.stopped}")
        print(f"  tasks run: {', '.join(ran) or 'none'}")
        print(f"  tasks not run: {', '.join(report.not_run) or 'none'}")
    print("all tasks succeeded" if report.ok else "some tasks failed")


# --- the headless interface (client portal, payment gateways) ------------------------------


def _headless(args, config, action) -> int:
    """Run one headless command: the database opened, the answer printed (JSON with
    `--json`), the documented exit status returned: 0 done, 2 bad input, 3 another run holds
    the lock, 4 refused by a rule, 5 database unavailable."""
    from hostdesk.models.db import DATABASE_ERRORS, bind, schema_is_current
    from hostdesk.models.errors import (
        HostdeskError,
        PermissionDenied,
        RuleViolation,
        RunInProgress,
        StaleRecordError,
        ValidationError,
    )

    def answer(code: int, kind: str, message: str, field: str | None = None) -> int:
        if args.json:
            print(json.dumps({"error": {"kind": kind, "field": field, "message": message}}))
        else:
            print(f"hostdesk: {f'{field}: ' if field else ''}{message}", file=sys.stderr)
        return code

    try:
        db = bind(config.database_url)
        db.connect(reuse_if_open=True)
    except (*DATABASE_ERRORS, OSError) as exc:
        return answer(EXIT_NO_DATABASE, "database_unavailable", f"cannot open the database: {exc}")
    try:
        if not schema_is_current(db):
            return answer(EXIT_NO_DATABASE, "database_unavailable",
                          "the database is not initialised or is out of date: run "
                          "'hostdesk init' first")
        output, text = action()
    except ValidationError as exc:
        return answer(EXIT_USAGE, "bad_input", exc.message, exc.field)
    except PermissionDenied as exc:
        return answer(EXIT_REFUSED, "refused", str(exc), "login")
    except (RuleViolation, StaleRecordError) as exc:
        return answer(EXIT_REFUSED, "refused", str(exc), getattr(exc, "field", None))
    except RunInProgress as exc:
        return answer(EXIT_BUSY, "busy", str(exc))
    except HostdeskError as exc:
        return answer(EXIT_REFUSED, "refused", str(exc))
    except DATABASE_ERRORS as exc:
        return answer(EXIT_NO_DATABASE, "database_unavailable", f"database error: {exc}")
    finally:
        db.close()
    print(json.dumps(output) if args.json else text)
    return EXIT_OK


def _without_unused_drivers(url: str) -> None:
    """A headless command and the daily run never load the MySQL drivers peewee imports when
    they are installed (the WHMCS import's), nor on SQLite the PostgreSQL driver (a tenth of a
    headless command's start-up; 16 MB of the daily run's peak memory). Only at process start, before peewee is imported: a process that
    has loaded peewee already keeps what it has. `url` is "" when only the config file
    knows it."""
    if "peewee" in sys.modules:
        return
    drivers = ["pymysql", "MySQLdb", "mysql"]
    if url.startswith("sqlite:") or (url and "://" not in url):  # as hostdesk.models.db reads a URL
        drivers += ["psycopg2", "psycopg", "psycopg2cffi"]
    for driver in drivers:
        sys.modules.setdefault(driver, None)  # `import psycopg2` now fails: peewee skips it


def _caller(args, account):
    """Who calls (the models are bound): the acting admin, the client and the integration."""
    from hostdesk.models.portal import caller

    client = args.record_id if getattr(args, "command", "") == "client" else args.client
    return caller(_acting_admin(args, account), client, args.via)


def _today(config, date_text):
    from hostdesk.models.clock import Clock
    from hostdesk.models.parsing import parse_date

    clock = Clock(config.settings.timezone)
    return clock if date_text is None else clock.on(parse_date(date_text, "date"))


def cmd_cancel_request(args, config, account) -> int:
    from hostdesk.models.portal_actions import cancellation_json, request_cancellation_for

    def action():
        request = request_cancellation_for(
            args.service_id, args.cancel_type, args.reason, _caller(args, account),
            disable_domain_auto_renew=args.domain_auto_renew_off,
            admin_notice_email=config.settings.admin_notice_email,
            company_name=config.settings.company_name)
        return (cancellation_json(request),
                f"cancellation request #{request.id} filed for service #{request.service_id} "
                f"({request.type})")
    return _headless(args, config, action)


def cmd_upgrade_request(args, config, account) -> int:
    from hostdesk.automation.portal import upgrade_request_json, upgrade_requested

    def action():
        done = upgrade_requested(args.service_id, args.product, args.cycle, _caller(args, account),
                                 clock=_today(config, args.date), settings=config.settings,
                                 quote_only=args.quote_only)
        shown = upgrade_request_json(done, config.settings.currency)
        quote = shown["quote"]
        text = (f"{done.request.quote.summary()}: {quote['days_remaining']} days remaining, "
                f"credit {quote['credit']}, charge {quote['charge']}, payable "
                f"{quote['payable']} {shown['currency']}")
        if shown["order"]:
            text += (f"\norder {shown['order']['order_number']}, invoice "
                     f"#{shown['order']['invoice']} ({shown['order']['invoice_status']}); the "
                     "change applies when the invoice is paid")
        return shown, text + _jobs_text(shown["module_jobs"])
    return _headless(args, config, action)


def _jobs_text(jobs: list[dict]) -> str:
    return "".join(f"\n{job['command']} of service #{job['service']}: {job['status']}"
                   + (f" ({job['message']})" if job["message"] else "") for job in jobs)


def cmd_payment_received(args, config, account) -> int:
    from hostdesk.automation.portal import payment_json, payment_received

    def action():
        done = payment_received(args.invoice_id, _caller(args, account), amount=args.amount,
                                method=args.method, ref=args.ref, date=args.date, fee=args.fee,
                                clock=_today(config, None), settings=config.settings)
        shown = payment_json(done, config.settings.currency)
        invoice = shown["invoice"]
        if shown["duplicate"]:
            text = (f"{args.method} transaction {args.ref!r} is already recorded on invoice "
                    f"#{invoice['id']}; nothing changed")
        else:
            text = (f"payment of {shown['payment']['amount']} recorded on invoice "
                    f"#{invoice['id']}: {invoice['status']}, balance {invoice['balance']}")
            if shown["credited"] != "0.00":
                text += f"; {shown['credited']} went to client credit"
        return shown, text + _jobs_text(shown["module_jobs"])
    return _headless(args, config, action)


def cmd_show(args, config, account) -> int:
    from hostdesk.models import portal

    def action():
        who = _caller(args, account)
        currency = config.settings.currency
        if args.command == "client":
            shown = portal.client_view(who, currency)
        elif args.command == "service":
            shown = portal.service_view(args.record_id, who, currency)
        else:
            shown = portal.invoice_view(args.record_id, who, currency)
        return shown, _plain_text(shown)
    return _headless(args, config, action)


def _plain_text(record: dict, indent: str = "") -> str:
    """A look-up as `key: value` lines, nested records indented."""
    lines = []
    for key, value in record.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.append(_plain_text(value, indent + "  "))
        elif isinstance(value, list):
            lines.append(f"{indent}{key}: {'none' if not value else ''}".rstrip())
            for item in value:
                shown = json.dumps(item, ensure_ascii=False) if isinstance(item, dict) else item
                lines.append(f"{indent}  - {shown}")
        else:
            lines.append(f"{indent}{key}: {'' if value is None else value}")
    return "\n".join(line for line in lines if line)


def cmd_backup(args, config, account) -> int:
    from hostdesk.automation.backup import backup

    db = _open_database(config)
    try:
        path = backup(config.database_url, args.file, admin=_acting_admin(args, account))
    finally:
        db.close()
    print(f"backup written to {path}")
    return EXIT_OK


def cmd_restore(args, config, account) -> int:
    from hostdesk.automation.backup import check_backup, restore
    from hostdesk.models.db import redact_url

    from pathlib import Path

    check_backup(Path(args.file))
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("restore replaces every record; add --yes to confirm")
        answer = input(f"Replace the database {redact_url(config.database_url)} with "
                       f"{args.file}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return _fail("nothing restored", EXIT_FAILED)
    db = _open_database(config, check_key=False)
    try:
        done = restore(config.database_url, args.file,
                       admin=_acting_admin(args, account))
    finally:
        db.close()
    print(f"restored {done.database} from {args.file}; the database before it was saved as "
          f"{done.saved_copy}")
    return EXIT_OK


def cmd_import_whmcs(args, config, account) -> int:
    from hostdesk.automation.whmcs import SourceError, import_whmcs
    from hostdesk.models.errors import HostdeskError, ValidationError

    db = _open_database(config)
    progress = _terminal_progress() if sys.stderr.isatty() and not args.json else None
    try:
        report = import_whmcs(args.source_url, admin=_acting_admin(args, account),
                              dry_run=args.dry_run, currency=args.currency,
                              hostdesk_currency=config.settings.currency, progress=progress)
    except ValidationError as exc:
        return _fail(str(exc))
    except (SourceError, HostdeskError) as exc:
        return _fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:  # ctrl+c: the import ended its writer, which rolled back
        return _fail("import cancelled: the batch being written was rolled back (a first "
                     "import keeps nothing: hostdesk is as before)", EXIT_FAILED)
    finally:
        db.close()
    print(report.to_json() if args.json else report.text())
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_config_show(args, config) -> int:
    from hostdesk.automation.config import describe

    rows = describe(config)
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}    ({source})")
    return EXIT_OK


def _print_errors(exc) -> None:
    from hostdesk.models.errors import ValidationErrors

    for error in (exc.errors if isinstance(exc, ValidationErrors) else [exc]):
        print(f"hostdesk: {error}", file=sys.stderr)


def cmd_client(args, config, account) -> int:
    from hostdesk.models import clients
    from hostdesk.models.errors import HostdeskError, PermissionDenied, ValidationError, ValidationErrors
    from hostdesk.models.parsing import parse_int_id

    db = _open_database(config)
    try:
        admin = _acting_admin(args, account)
        values = {name: getattr(args, f"field_{name}") for name in CLIENT_FIELDS
                  if getattr(args, f"field_{name}") is not None}
        if args.action == "add":
            detail = clients.add_client(values, admin=admin,
                                        allow_duplicate_email=args.allow_duplicate_email)
        else:
            client_id = parse_int_id(args.record_id, "CLIENT_ID")
            version = args.version if args.version is not None \
                else clients.client_detail(client_id).version
            detail = clients.edit_client(client_id, version, values, admin=admin,
                                         allow_duplicate_email=args.allow_duplicate_email)
    except clients.DuplicateEmail as exc:
        return _fail(f"{exc} (add --allow-duplicate-email)")
    except (ValidationError, ValidationErrors) as exc:
        _print_errors(exc)
        return EXIT_USAGE
    except PermissionDenied as exc:
        return _fail(str(exc), EXIT_REFUSED)
    except HostdeskError as exc:
        return _fail(str(exc), EXIT_REFUSED)
    finally:
        db.close()
    if args.json:
        print(json.dumps(detail.to_json(), indent=2, sort_keys=True))
    else:
        print(f"client #{detail.id} {detail.display_name} (version {detail.version})")
        for name in CLIENT_FIELDS:
            print(f"  {name:<24} {detail.values[name]}")
        print(f"  {'credit':<24} {detail.credit}")
        services = ", ".join(f"{k} {v}" for k, v in sorted(detail.services_by_status.items()))
        print(f"  {'services':<24} {services or 'none'}")
    return EXIT_OK


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(_fail(f"cannot read {path}: {exc}"))


def cmd_import(args, config, account) -> int:
    from hostdesk.models import clients
    from hostdesk.models.errors import PermissionDenied, ValidationError

    if args.import_command == "whmcs":
        return cmd_import_whmcs(args, config, account)
    if args.import_command != "clients":
        return _fail("usage: hostdesk import clients FILE.csv [--dry-run] | "
                     "import whmcs --from mysql://USER:PASSWORD@HOST/DB")
    text = _read_file(args.file)
    db = _open_database(config)
    try:
        report = clients.import_clients(text, admin=_acting_admin(args, account),
                                        dry_run=args.dry_run,
                                        allow_duplicate_email=args.allow_duplicate_email)
    except ValidationError as exc:
        return _fail(f"{args.file}: {exc}")
    except PermissionDenied as exc:
        return _fail(str(exc), EXIT_REFUSED)
    finally:
        db.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return EXIT_OK if not report.refused else EXIT_FAILED


def cmd_catalog(args, config, account) -> int:
    from hostdesk.automation.provisioning.registry import available_modules
    from hostdesk.models import catalog_file
    from hostdesk.models.errors import PermissionDenied, ValidationError

    if args.catalog_command not in ("export", "apply"):
        return _fail("usage: hostdesk catalog export | apply FILE.toml [--dry-run]")
    db = _open_database(config)
    try:
        if args.catalog_command == "export":
            sys.stdout.write(catalog_file.export_catalog())
            return EXIT_OK
        text = _read_file(args.file)
        report = catalog_file.apply_catalog(
            text, path=args.file, admin=_acting_admin(args, account),
            modules=available_modules(), dry_run=args.dry_run)
    except catalog_file.CatalogFileError as exc:
        return _fail(str(exc))
    except ValidationError as exc:
        return _fail(f"{args.file}: {exc}")
    except PermissionDenied as exc:
        return _fail(str(exc), EXIT_REFUSED)
    finally:
        db.close()
    print("\n".join(report.lines()))
    return EXIT_OK


def cmd_export(args, config, account) -> int:
    from hostdesk.models.export import source_for
    from hostdesk.models.listing import ListFilter
    from hostdesk.tui.exporting import export_to_path

    db = _open_database(config, check_key=False)
    try:
        source = source_for(args.list, _acting_admin(args, account),
                            config.settings.timezone)
        progress = None
        if args.output and sys.stderr.isatty():
            show = _terminal_progress()
            progress = lambda done, total: show(args.list, done, total)  # noqa: E731
        result = export_to_path(source, ListFilter(args.filter), args.format, args.output,
                                progress=progress)
    finally:
        db.close()
    if args.output:
        print(f"exported {result.rows:,} {args.list} rows to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_demo(args, config, account) -> int:
    from hostdesk.automation.demo import build_demo

    if not args.no_open:
        _require_terminal()
    db = _open_database(config, create=True, check_key=False)
    config = _ensure_secret_key(config)
    summary = build_demo(seed=args.seed, clients=args.clients,
                         today=pendulum.today(config.settings.timezone).date(),
                         owner_login=_identity(args, account).login)
    print(summary)
    db.close()
    if args.no_open:
        return EXIT_OK
    return cmd_tui(args, config, account)


def _require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise SystemExit(_fail("the TUI needs a terminal (stdin and stdout are not one); for "
                               "scripts use the headless commands: hostdesk --help"))


def cmd_tui(args, config, account) -> int:
    if config.keymap:  # a config error, said before the screen is taken
        from hostdesk.models.errors import ValidationErrors
        from hostdesk.tui.keymap import check_keymap

        try:
            check_keymap(config.keymap, str(config.config_file or "config"))
        except ValidationErrors as exc:
            for error in exc.errors:
                print(f"hostdesk: config: {error}", file=sys.stderr)
            return EXIT_USAGE
    _require_terminal()
    _require_secret_key(config)
    db = _open_database(config)
    login = _identity(args, account).login
    db.close()
    from hostdesk.tui.app import run_tui

    log = logging.getLogger("hostdesk.tui")
    log.info("TUI opened by %s", login)
    status = run_tui(config, login=login)
    log.info("TUI closed by %s", login)
    return status


def cmd_completion(args) -> int:
    import shtab

    print(shtab.complete(_parser(), shell=args.shell), end="")
    return EXIT_OK


def cmd_db_status(args, config) -> int:
    from hostdesk.automation.dbstatus import database_status

    status = database_status(config.database_url)
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    size = status["size_bytes"]
    print(f"database        {status['database_url']}")
    print(f"schema version  {status['schema_version'] or '(not initialised)'}")
    pending = status["pending_migrations"]
    print(f"pending         {', '.join(pending) if pending else 'none'}")
    print(f"size            {size / 1_048_576:.1f} MiB" if size is not None else "size            unknown")
    run = status["last_run"]
    print("last run        " + (f"#{run['id']} for {run['run_date']}: {run['status']}, started "
                                f"{run['started_at']}, finished {run['finished_at'] or '-'}"
                                if run else "never"))
    return EXIT_OK


def _configure_logging(args, config=None) -> None:
    from hostdesk.automation.logs import configure

    secrets = (config.secret_key, config.settings.smtp_password) if config else ()
    opens_tui = args.command is None or (args.command == "demo" and not args.no_open)
    configure(args.log_level, args.log_file, args.log_format, tui=opens_tui, secrets=secrets)


def _run(args, config, account) -> int:
    if args.command == "init":
        return cmd_init(args, config, account)
    if args.command == "cron":
        return cmd_cron(args, config, account)
    if args.command == "cancel-request":
        return cmd_cancel_request(args, config, account)
    if args.command == "upgrade-request":
        return cmd_upgrade_request(args, config, account)
    if args.command == "payment-received":
        return cmd_payment_received(args, config, account)
    if args.command == "client" and args.action in ("add", "edit"):
        return cmd_client(args, config, account)
    if args.command in LOOKUP_COMMANDS:
        if args.action != "show":
            return _fail(f"usage: hostdesk {args.command} show ID"
                         + (" | add | edit" if args.command == "client" else ""))
        return cmd_show(args, config, account)
    if args.command == "import":
        return cmd_import(args, config, account)
    if args.command == "export":
        return cmd_export(args, config, account)
    if args.command == "catalog":
        return cmd_catalog(args, config, account)
    if args.command == "backup":
        return cmd_backup(args, config, account)
    if args.command == "restore":
        return cmd_restore(args, config, account)
    if args.command == "key":
        if args.key_command != "rotate":
            return _fail("usage: hostdesk key rotate --new-key-file PATH")
        return cmd_key_rotate(args, config, account)
    if args.command == "config":
        if args.config_command != "show":
            return _fail("usage: hostdesk config show")
        return cmd_config_show(args, config)
    if args.command == "db":
        if args.db_command != "status":
            return _fail("usage: hostdesk db status [--json]")
        return cmd_db_status(args, config)
    if args.command == "demo":
        return cmd_demo(args, config, account)
    return cmd_tui(args, config, account)


def _exit_status(exc: BaseException, database_url: str) -> tuple[int, str]:
    """The exit status and the one line that say what went wrong."""
    from hostdesk.automation.backup import BackupError
    from hostdesk.models.db import DATABASE_ERRORS, DatabaseMissing, redact_url
    from hostdesk.models.errors import (
        HostdeskError,
        PermissionDenied,
        RuleViolation,
        RunInProgress,
        ValidationError,
        ValidationErrors,
    )
    from hostdesk.models.keyring import KeyMismatch
    from hostdesk.models.secrets import MissingSecretKey, UnreadableSecret, WeakSecretKey

    text = str(exc)
    if isinstance(exc, DATABASE_ERRORS):
        first = next((line.strip() for line in text.splitlines() if line.strip()),
                     type(exc).__name__)
        return EXIT_UNAVAILABLE, (f"database unavailable ({redact_url(database_url)}): "
                                  f"{_without_password(first, database_url)}")
    if isinstance(exc, RunInProgress):
        return EXIT_BUSY, text
    if isinstance(exc, (PermissionDenied, RuleViolation)):
        return EXIT_REFUSED, text
    if isinstance(exc, ValidationErrors):
        return EXIT_USAGE, "; ".join(str(e) for e in exc.errors)
    if isinstance(exc, (ValidationError, BackupError, DatabaseMissing, MissingSecretKey,
                        WeakSecretKey, KeyMismatch, UnreadableSecret, ValueError)):
        return EXIT_USAGE, text
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return EXIT_USAGE, f"{where}{exc.strerror or exc}"
    if isinstance(exc, HostdeskError):
        return EXIT_FAILED, text
    raise exc


def _without_password(text: str, url: str) -> str:
    from urllib.parse import unquote, urlparse

    try:
        password = urlparse(url).password
    except ValueError:
        return text
    for form in {password, unquote(password or "")} - {None, ""}:
        text = text.replace(form, "****")
    return text


def main(argv=None, *, os_account=None, program: bool = False) -> int:
    """`os_account` (tests only) stands for the OS account otherwise found by the process's
    uid; nothing a user sets (flag, environment) can change who is acting. `program`: run as
    the `hostdesk` program (tui/program.py), which starts with the garbage collector off:
    back on for anything but a headless command, whose process then ends without the
    interpreter's teardown (`_end_now`)."""
    args = parse_args(argv)
    one_request = args.command in HEADLESS_COMMANDS and getattr(args, "action", "show") == "show"
    if program and not one_request:
        gc.enable()
    code = _main(args, one_request, os_account)
    if program and one_request:
        _end_now(code)
    return code


def _end_now(code: int) -> None:
    """End the process now: what it printed flushed and the exit handlers run (logging's),
    but not the interpreter's teardown, which freed every module again (a headless command
    is over by then). Only when no other thread runs, which a normal exit would wait for."""
    if threading.active_count() > 1:
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None when the process started with it closed
                stream.flush()
    except OSError:
        return  # the usual exit reports it as Python does (a reader gone, a full disk)
    atexit._run_exitfuncs()
    os._exit(code)


def _main(args, one_request: bool, os_account) -> int:
    from hostdesk.models.errors import ValidationError, ValidationErrors

    if args.command == "completion":
        return cmd_completion(args)
    if args.command == "cron" or one_request:
        _without_unused_drivers(args.db or os.environ.get("HOSTDESK_DB", ""))
    _configure_logging(args)
    try:
        config = _load(args)
    except ValidationErrors as exc:
        for error in exc.errors:
            print(f"hostdesk: config: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        return _fail(f"config: {exc}")
    _configure_logging(args, config)
    from hostdesk.automation.identity import current_os_account
    from hostdesk.models import audit

    account = os_account or current_os_account()
    lookup = args.command in LOOKUP_COMMANDS and args.action == "show"
    if not lookup:  # look-ups need neither keys nor templates
        from hostdesk.models import emails, secrets

        if config.secret_key:
            try:
                secrets.check_strength(config.secret_key)
            except secrets.WeakSecretKey as exc:
                return _fail(f"config: {exc}")
        secrets.configure(config.secret_key)
        emails.configure_defaults(config.settings)
    try:
        return _run(args, config, account)
    except SystemExit as exc:
        return int(exc.code or 0)
    except BrokenPipeError:
        # The reader went away (`hostdesk ... | head`): nothing left to say, and no traceback
        # when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - every known failure becomes one line
        try:
            code, message = _exit_status(exc, config.database_url)
        except Exception:
            logging.getLogger("hostdesk.cli").exception("hostdesk %s crashed",
                                                         args.command or "tui")
            raise
        return _fail(message, code)
    finally:
        audit.set_operator("")


if __name__ == "__main__":
    sys.exit(main())
