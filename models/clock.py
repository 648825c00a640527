"""The one injectable "today". Every rule that depends on the date asks a Clock."""

from dataclasses import dataclass

import pendulum


@dataclass(frozen=True)
class Clock:
    timezone: str = "UTC"
    fixed_today: pendulum.Date | None = None

    def today(self) -> pendulum.Date:
        if self.fixed_today is not None:
            return self.fixed_today
        return pendulum.today(self.timezone).date()

    def now(self) -> pendulum.DateTime:
        return pendulum.now("UTC")

    def on(self, day: pendulum.Date) -> "Clock":
        """The same clock pinned to another day (for `--date` replays and tests)."""
        return Clock(self.timezone, day)
