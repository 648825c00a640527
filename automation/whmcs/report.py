"""What an import did: per WHMCS table rows read, imported, updated, unchanged and skipped
(each skipped row named with its reason), what was left out, and the reconciliation."""

import json
from collections import Counter
from dataclasses import dataclass, field

from hostdesk.models.money import format_money, from_cents

SHOWN_SKIPS = 50  # per table on screen; --json lists every one


@dataclass
class TableCounts:
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list = field(default_factory=list)  # {"id", "reason"}
    duplicates: int = 0  # invoice items renewing a period another live invoice billed

    def as_dict(self) -> dict:
        reasons = Counter(_reason_kind(s["reason"]) for s in self.skipped)
        return {"read": self.read, "imported": self.imported, "updated": self.updated,
                "unchanged": self.unchanged, "skipped": len(self.skipped),
                "skip_reasons": dict(reasons), "skipped_rows": self.skipped}


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0]


@dataclass
class Report:
    dry_run: bool = False
    currency: str = ""
    tables: dict = field(default_factory=dict)  # whmcs table -> TableCounts
    left_out: dict = field(default_factory=dict)  # other currencies: code -> {table: count}
    notes: list = field(default_factory=list)  # what the host must do by hand
    servers_to_rekey: list = field(default_factory=list)
    reconciliation: list = field(default_factory=list)  # {"figure", "source", "hostdesk", "equal"}
    error: str = ""
    seconds: float = 0.0
    bulk: bool = False  # a first import into an empty hostdesk: one transaction, all or nothing

    def table(self, name: str) -> TableCounts:
        if name not in self.tables:
            self.tables[name] = TableCounts()
        return self.tables[name]

    def skip(self, table: str, source_id, reason: str) -> None:
        self.table(table).skipped.append({"id": source_id, "reason": reason})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def reconciled(self) -> bool:
        return bool(self.reconciliation) and all(r["equal"] for r in self.reconciliation)

    @property
    def ok(self) -> bool:
        return not self.error and self.reconciled

    def as_dict(self) -> dict:
        return {"ok": self.ok, "dry_run": self.dry_run, "first_import": self.bulk,
                "currency": self.currency,
                "error": self.error, "seconds": round(self.seconds, 3),
                "tables": {name: counts.as_dict() for name, counts in self.tables.items()},
                "left_out": self.left_out, "notes": self.notes,
                "servers_to_rekey": self.servers_to_rekey,
                "reconciliation": [{**r, "source": _money(r["source"], r.get("count")),
                                    "hostdesk": _money(r["hostdesk"], r.get("count"))}
                                   for r in self.reconciliation]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def text(self) -> str:
        mode = (" (dry run: nothing was written)" if self.dry_run else
                " (first import: all or nothing)" if self.bulk else "")
        lines = [f"WHMCS import{mode}, currency {self.currency or '?'}, {self.seconds:.1f} s", "",
                 f"  {'table':<26}{'read':>9}{'imported':>10}{'updated':>9}{'unchanged':>11}"
                 f"{'skipped':>9}"]
        for name, c in self.tables.items():
            lines.append(f"  {name:<26}{c.read:>9}{c.imported:>10}{c.updated:>9}{c.unchanged:>11}"
                         f"{len(c.skipped):>9}")
        skipped = [(name, c.skipped) for name, c in self.tables.items() if c.skipped]
        if skipped:
            lines += ["", "skipped rows:"]
            for name, rows in skipped:
                for row in rows[:SHOWN_SKIPS]:
                    lines.append(f"  {name} #{row['id']}: {row['reason']}")
                if len(rows) > SHOWN_SKIPS:
                    lines.append(f"  {name}: {len(rows) - SHOWN_SKIPS} more (see --json)")
        if self.left_out:
            lines += ["", "left out (other currencies):"]
            for code, counts in self.left_out.items():
                lines.append(f"  {code}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
        if self.reconciliation:
            lines += ["", "reconciliation (source vs hostdesk):"]
            for r in self.reconciliation:
                mark = "ok" if r["equal"] else "DIFFERENT"
                lines.append(f"  {r['figure']:<34}{_money(r['source'], r.get('count')):>22}"
                             f"{_money(r['hostdesk'], r.get('count')):>22}  {mark}")
        if self.notes:
            lines += ["", "to do by hand:"] + [f"  - {n}" for n in self.notes]
        lines.append("")
        if self.error:
            lines.append(f"import FAILED: {self.error}")
        else:
            lines.append("reconciled to the cent" if self.reconciled else "NOT reconciled")
        return "\n".join(lines)


def _money(cents_or_count, count: bool | None = None) -> str:
    if count:
        return str(cents_or_count)
    return format_money(from_cents(int(cents_or_count)), "")
