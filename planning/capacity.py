"""How many elders each facility can serve: its own 服务能力, else its kind's (beds for institutions), else no limit."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def facility_capacity(facilities: pd.DataFrame, kinds: Iterable) -> np.ndarray:
    """Capacity per facility row (inf where nothing limits it).

    ``kinds``: the configured facility kinds (``id``, ``capacity``, ``capacity_from_beds``). A facility's own
    ``service_capacity`` (from the imported data) wins; a kind with ``capacity_from_beds`` counts its beds;
    otherwise the kind's ``capacity``; a kind without one is not limited.
    """
    by_kind = {k.id: k for k in kinds}
    n = len(facilities)
    out = np.full(n, np.inf)
    kind_ids = facilities["kind_id"].to_numpy() if n else np.array([], dtype=object)
    for kind_id in set(kind_ids.tolist()):
        k = by_kind.get(kind_id)
        mask = kind_ids == kind_id
        if k is None:
            continue
        if k.capacity_from_beds:
            out[mask] = facilities["beds_total"].to_numpy(dtype=float)[mask]
        elif k.capacity is not None:
            out[mask] = float(k.capacity)
    if "service_capacity" in facilities:
        own = pd.to_numeric(facilities["service_capacity"], errors="coerce").to_numpy(dtype=float)
        out = np.where(np.isfinite(own), own, out)
    return out
