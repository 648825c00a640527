"""The `hostdesk` program as installed (the console script): `hostdesk.tui.cli`'s command
line, started with the garbage collector off.

A headless command is one request in a new process. Its start-up builds tens of thousands of
long-lived objects (modules, classes, the models) and no garbage cycle worth a collection,
yet the collector ran again and again while it imported; and at exit the interpreter's
teardown freed every module again. `cli.main` turns the collector back on for every other
command, and ends a headless command's process without the teardown (a fifth of its CPU
time together)."""

import gc
import sys


def run() -> None:
    gc.disable()
    from hostdesk.tui.cli import main

    sys.exit(main(program=True))
