"""The `hostdesk` command. Textual is imported only by the commands that open the TUI, so
`hostdesk cron` and the other headless commands stay light and safe for cron."""

import argparse
import getpass
import json
import sys

import pendulum

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hostdesk",
        description="Keyboard-driven terminal admin for hosting providers.",
    )
    parser.add_argument("--db", metavar="URL",
                        help="database URL: sqlite:///PATH or postgresql://USER@HOST/NAME "
                             "(default: HOSTDESK_DB, the config file, or a SQLite file in "
                             "your data directory)")
    parser.add_argument("--config", metavar="PATH", help="config file (default: nearest hostdesk.toml)")
    parser.add_argument("--login", metavar="LOGIN",
                        help="admin login to act as (default: your OS user)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("init", help="create or upgrade the database schema")

    demo = sub.add_parser("demo", help="fill the database with demo data and open the TUI")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--clients", type=int, default=200, help="number of clients (default 200)")
    demo.add_argument("--no-open", action="store_true", help="only build the data")

    cron = sub.add_parser("cron", help="the daily run (invoices, reminders, suspensions, ...)")
    cron.add_argument("--date", metavar="YYYY-MM-DD", help="run as of this day (default today)")
    cron.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    cron.add_argument("--json", action="store_true", help="print a machine-readable report")
    cron.add_argument("--no-email", action="store_true", help="queue no emails in this run")
    cron.add_argument("--workers", type=int, default=1, metavar="N",
                      help="share the invoicing among N processes (PostgreSQL; default 1)")
    cron.add_argument("--join", action="store_true",
                      help="help the daily run in progress with its invoicing (e.g. from "
                           "another machine), then exit")

    cancel = sub.add_parser("cancel-request", help="file a cancellation request for a service")
    cancel.add_argument("service_id", metavar="SERVICE_ID")
    cancel.add_argument("--type", required=True, choices=["immediate", "end_of_period"],
                        dest="cancel_type")
    cancel.add_argument("--reason", required=True)
    cancel.add_argument("--domain-auto-renew-off", action="store_true",
                        help="also turn off auto-renew of the service's domain")

    backup = sub.add_parser("backup", help="copy the database consistently, even while in use")
    backup.add_argument("file", metavar="FILE")
    restore = sub.add_parser("restore", help="replace the database with a backup")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    config = sub.add_parser("config", help="show the resolved configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    config_sub.add_parser("show", help="print every setting, its value and where it came from")
    return parser


def _fail(message: str, code: int = EXIT_USAGE) -> int:
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

    config = _ensure_secret_key(config)
    db = _open_database(config, create=True)
    admin = ensure_first_admin(args.login or getpass.getuser())
    print(f"database ready: {config.database_url}")
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
    from models.permissions import find_admin

    db = _open_database(config)
    try:
        service_id = parse_int_id(args.service_id, "SERVICE_ID")
        login = args.login or getpass.getuser()
        request = request_cancellation(
            service_id, args.cancel_type, args.reason, admin=find_admin(login),
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
    return run_tui(config, login=args.login or getpass.getuser())


def main(argv=None) -> int:
    from models.errors import HostdeskError, ValidationError, ValidationErrors

    args = _parser().parse_args(argv)
    try:
        config = _load(args)
    except ValidationErrors as exc:
        for error in exc.errors:
            print(f"hostdesk: config: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        return _fail(f"config: {exc}")
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
        if args.command == "demo":
            return cmd_demo(args, config)
        return cmd_tui(args, config)
    except SystemExit as exc:
        return int(exc.code or 0)
    except ValueError as exc:
        return _fail(str(exc))
    except HostdeskError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
