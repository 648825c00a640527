"""`python -m bench` (`make bench`): build the benchmark databases, measure, print a table and
write every figure to a JSON file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.suite import DEFAULT_SIZES, ENGINES, FIGURES, Options, format_table, run_suite


def _list(text: str, cast=str) -> tuple:
    return tuple(cast(item.strip().replace("_", "")) for item in text.split(",") if item.strip())


def parse_args(argv=None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="numbers of services, comma separated (default %(default)s)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="sqlite, postgres or both (default %(default)s)")
    parser.add_argument("--only", default=",".join(FIGURES),
                        help=f"figures to measure, from {', '.join(FIGURES)} (default all)")
    parser.add_argument("--out", default="bench-results/results.json", type=Path,
                        help="where to write the JSON results (default %(default)s)")
    parser.add_argument("--cache", default="bench-results/cache", type=Path,
                        help="where built databases (SQLite files, a PostgreSQL data directory) are kept between runs")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached databases")
    parser.add_argument("--tui-samples", type=int, default=30,
                        help="samples per TUI timing (default %(default)s)")
    parser.add_argument("--headless-samples", type=int, default=20,
                        help="requests per headless command (default %(default)s)")
    parser.add_argument("--normal-samples", type=int, default=3,
                        help="normal-day runs per variant, the median reported (default %(default)s)")
    parser.add_argument("--no-email-variant", action="store_true",
                        help="skip the daily run with invoice emails (the slower variant)")
    parser.add_argument("--cron-timeout", type=float, default=3600.0,
                        help="stop a daily run after this many seconds and report it as at "
                             "least that long (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        sizes = _list(args.sizes, int)
    except ValueError:
        parser.error(f"--sizes: whole numbers, comma separated, not {args.sizes!r}")
    engines, only = _list(args.engines), _list(args.only)
    for name, chosen, allowed in (("--engines", engines, ENGINES), ("--only", only, FIGURES)):
        wrong = [c for c in chosen if c not in allowed]
        if wrong or not chosen:
            parser.error(f"{name}: choose from {', '.join(allowed)} (not {', '.join(wrong)})")
    if any(size < 1 for size in sizes) or not sizes:
        parser.error("--sizes: at least one positive number")
    return Options(sizes=sizes, engines=engines, only=only, out=args.out, cache_dir=args.cache,
                   rebuild=args.rebuild, tui_samples=max(1, args.tui_samples),
                   normal_samples=max(1, args.normal_samples),
                   headless_samples=max(1, args.headless_samples),
                   email_variant=not args.no_email_variant, cron_timeout=args.cron_timeout)


def main(argv=None) -> int:
    options = parse_args(argv)
    results = run_suite(options)
    print(format_table(results))
    print(f"\nevery figure: {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
