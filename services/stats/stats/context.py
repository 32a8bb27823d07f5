"""What the statistics service's handlers, scheduler and API share: built once by `bootstrap(settings)`."""

from __future__ import annotations

from dataclasses import dataclass

from stats.domain.roster import Roster
from stats.settings import StatsSettings


@dataclass(frozen=True)
class StatsContext:
    settings: StatsSettings
    # person -> department (validated at start): timeliness per department, a department head's scope.
    roster: Roster
