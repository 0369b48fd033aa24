"""Overview KPIs for the map page (elders, facilities per level, beds per 1,000)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class OverviewKPIs:
    elders_60_plus: int
    elders_80_plus: int
    facilities_by_level: dict[str, int]  # operating facilities per 1+3+N level id
    care_beds: int  # beds in operating elderly-care facilities
    beds_per_1000: float | None  # None when there are no elders

    @property
    def share_80_plus(self) -> float | None:
        return self.elders_80_plus / self.elders_60_plus if self.elders_60_plus else None


def overview_kpis(
    facilities: pd.DataFrame,
    elders: pd.DataFrame,
    *,
    level_ids: tuple[str, ...],
    care_kind_ids: frozenset[str],
) -> OverviewKPIs:
    """KPIs over the given rows (already filtered to an area by the caller).

    Only facilities with status ``operating`` count. Beds count only in kinds
    that are elderly-care services (a clinic's beds are not elderly beds).
    """
    e60 = int(elders[["age_60_69", "age_70_79", "age_80_plus"]].to_numpy().sum()) if len(elders) else 0
    e80 = int(elders["age_80_plus"].sum()) if len(elders) else 0
    operating = facilities[facilities["status"] == "operating"] if len(facilities) else facilities
    counts = operating["level"].value_counts() if len(operating) else pd.Series(dtype=int)
    by_level = {lv: int(counts.get(lv, 0)) for lv in level_ids}
    care = operating[operating["kind_id"].isin(care_kind_ids)] if len(operating) else operating
    beds = int(care["beds_total"].sum()) if len(care) else 0
    return OverviewKPIs(
        elders_60_plus=e60,
        elders_80_plus=e80,
        facilities_by_level=by_level,
        care_beds=beds,
        beds_per_1000=(beds / e60 * 1000.0) if e60 else None,
    )
