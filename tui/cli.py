"""The `hostdesk` command. Textual is imported only by the commands that open the TUI, so
`hostdesk cron` and the other headless commands stay light and safe for cron."""

import argparse
import getpass
import json
import logging
import sys
import textwrap

import pendulum

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


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
                       help="admin login to act as (default: your OS user)")
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


def _parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("hostdesk")
    except PackageNotFoundError:
        installed = "unknown (not installed)"
    common = [_global_options()]
    parser = argparse.ArgumentParser(
        prog="hostdesk", parents=common,
        description="Keyboard-driven terminal admin for hosting providers. Without a command "
                    "it opens the TUI.",
        epilog="examples:\n  hostdesk init\n  hostdesk\n  hostdesk cron --db "
               "postgresql://hostdesk@db/hostdesk --log-file /var/log/hostdesk/cron.log",
        formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"hostdesk {installed}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    cancel = _command(sub, "cancel-request", "file a cancellation request for a service",
                      "File a cancellation request for a service, as a client portal would: "
                      "its unpaid lines are cancelled and the admins notified.",
                      'hostdesk cancel-request 1042 --type end_of_period --reason "moving away"',
                      common)
    cancel.add_argument("service_id", metavar="SERVICE_ID")
    cancel.add_argument("--type", required=True, choices=["immediate", "end_of_period"],
                        dest="cancel_type")
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--domain-auto-renew-off", action="store_true",
                        help="also turn off auto-renew of the service's domain")

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
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    logging.getLogger("hostdesk.cli").error("%s", message, extra={"exit_status": code})
    print(f"hostdesk: {message}", file=sys.stderr)
    return code


def _load(args):
    from automation.config import load_config

    return load_config(args.config, args.db)


def _open_database(config, *, create: bool = False):
    """Bind the models to the configured database; refuse an un-migrated one unless creating."""
    from models.db import bind, migrate, pending_migrations

    db = bind(config.database_url)
    db.connect(reuse_if_open=True)
    if create:
        migrate(db)
    elif pending_migrations(db):
        db.close()
        raise SystemExit(_fail(
            f"the database at {config.database_url} is not initialised or is out of date: "
            "run 'hostdesk init' first", EXIT_USAGE))
    return db


def _require_secret_key(config) -> None:
    from models import secrets

    if not config.secret_key:
        raise SystemExit(_fail(str(secrets.MissingSecretKey())))


def _ensure_secret_key(config):
    """init/demo on a fresh machine: generate a private key file when no key is configured."""
    from dataclasses import replace

    from automation.config import write_key_file
    from models import secrets

    if config.secret_key:
        return config
    key = secrets.new_key()
    path = write_key_file(key)
    print(f"generated a secret key in {path} (keep it: it decrypts stored passwords)")
    secrets.configure(key)
    return replace(config, secret_key=key)


def cmd_init(args, config) -> int:
    from models.admins import ensure_first_admin
    from models.invoicing import adopt_currency

    config = _ensure_secret_key(config)
    db = _open_database(config, create=True)
    adopted = adopt_currency(config.settings.currency)
    admin = ensure_first_admin(args.login or getpass.getuser())
    print(f"database ready: {config.database_url}")
    if adopted:
        print(f"{adopted} existing invoices recorded in {config.settings.currency}")
    if admin is not None:
        print(f"admin '{admin.login}' created with the 'full' role")
    db.close()
    return EXIT_OK


def cmd_cron(args, config) -> int:
    from automation.cron import run_daily
    from models.clock import Clock
    from models.errors import RunInProgress
    from models.parsing import parse_date

    _require_secret_key(config)
    clock = Clock(config.settings.timezone)
    if args.date is not None:
        try:
            clock = clock.on(parse_date(args.date, "--date"))
        except Exception as exc:
            return _fail(str(exc))
    db = _open_database(config)
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


def _join_run(args, config, db) -> int:
    from automation.cron import join_run

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
    print("all tasks succeeded" if report.ok else "some tasks failed")


def cmd_cancel_request(args, config) -> int:
    from models.cancellations import request_cancellation
    from models.errors import HostdeskError, ValidationError
    from models.parsing import parse_int_id
    from models.permissions import MANAGE_CANCELLATIONS, find_admin, require

    db = _open_database(config)
    try:
        service_id = parse_int_id(args.service_id, "SERVICE_ID")
        login = args.login or getpass.getuser()
        require(find_admin(login), MANAGE_CANCELLATIONS)
        request = request_cancellation(
            service_id, args.cancel_type, args.reason, requested_by=login,
            disable_domain_auto_renew=args.domain_auto_renew_off,
            admin_notice_email=config.settings.admin_notice_email,
            company_name=config.settings.company_name)
    except ValidationError as exc:
        return _fail(str(exc))
    except HostdeskError as exc:
        return _fail(str(exc), EXIT_FAILED)
    finally:
        db.close()
    print(f"cancellation request #{request.id} filed for service #{service_id} ({request.type})")
    return EXIT_OK


def cmd_backup(args, config) -> int:
    from automation.backup import BackupError, backup

    try:
        path = backup(config.database_url, args.file)
    except BackupError as exc:
        return _fail(str(exc), EXIT_FAILED)
    print(f"backup written to {path}")
    return EXIT_OK


def cmd_restore(args, config) -> int:
    from automation.backup import BackupError, restore

    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("restore replaces every record; add --yes to confirm")
        answer = input(f"Replace the database {config.database_url} with {args.file}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return _fail("nothing restored", EXIT_FAILED)
    try:
        path = restore(config.database_url, args.file)
    except BackupError as exc:
        return _fail(str(exc), EXIT_FAILED)
    print(f"restored {path} from {args.file}")
    return EXIT_OK


def cmd_config_show(args, config) -> int:
    from automation.config import describe

    rows = describe(config)
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}    ({source})")
    return EXIT_OK


def cmd_demo(args, config) -> int:
    from automation.demo import build_demo

    config = _ensure_secret_key(config)
    db = _open_database(config, create=True)
    summary = build_demo(seed=args.seed, clients=args.clients,
                         today=pendulum.today(config.settings.timezone).date(),
                         admin_login=args.login or getpass.getuser())
    print(summary)
    db.close()
    if args.no_open:
        return EXIT_OK
    return cmd_tui(args, config)


def cmd_tui(args, config) -> int:
    from tui.app import run_tui

    _require_secret_key(config)
    db = _open_database(config)
    db.close()
    login = args.login or getpass.getuser()
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
    from automation.dbstatus import database_status

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
    from automation.logs import configure

    secrets = (config.secret_key, config.settings.smtp_password) if config else ()
    opens_tui = args.command is None or (args.command == "demo" and not args.no_open)
    configure(args.log_level, args.log_file, args.log_format, tui=opens_tui, secrets=secrets)


def main(argv=None) -> int:
    from models.errors import HostdeskError, ValidationError, ValidationErrors

    args = parse_args(argv)
    if args.command == "completion":
        return cmd_completion(args)
    _configure_logging(args)
    try:
        config = _load(args)
    except ValidationErrors as exc:
        for error in exc.errors:
            logging.getLogger("hostdesk.cli").error("config: %s", error)
            print(f"hostdesk: config: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        return _fail(f"config: {exc}")
    _configure_logging(args, config)
    from models import emails, secrets

    secrets.configure(config.secret_key)
    emails.configure_defaults(config.settings)
    try:
        if args.command == "init":
            return cmd_init(args, config)
        if args.command == "cron":
            return cmd_cron(args, config)
        if args.command == "cancel-request":
            return cmd_cancel_request(args, config)
        if args.command == "backup":
            return cmd_backup(args, config)
        if args.command == "restore":
            return cmd_restore(args, config)
        if args.command == "config":
            if args.config_command != "show":
                return _fail("usage: hostdesk config show")
            return cmd_config_show(args, config)
        if args.command == "db":
            if args.db_command != "status":
                return _fail("usage: hostdesk db status [--json]")
            return cmd_db_status(args, config)
        if args.command == "demo":
            return cmd_demo(args, config)
        return cmd_tui(args, config)
    except SystemExit as exc:
        return int(exc.code or 0)
    except ValueError as exc:
        return _fail(str(exc))
    except HostdeskError as exc:
        return _fail(str(exc))
    except Exception:
        logging.getLogger("hostdesk.cli").exception("hostdesk %s crashed", args.command or "tui")
        raise


if __name__ == "__main__":
    sys.exit(main())
