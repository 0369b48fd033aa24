"""Facility capacity: the facility's own figure, else beds for institutions, else the kind's, else no limit."""

import numpy as np
import pandas as pd

from config import load_config
from planning.capacity import facility_capacity


def test_capacity_precedence_from_the_shipped_config():
    kinds = load_config().facility_kinds
    df = pd.DataFrame({
        "kind_id": ["community_station", "community_station", "institution", "dispatch_centre", "unknown"],
        "beds_total": [0, 0, 120, 0, 0],
        "service_capacity": [None, 250, None, None, None],
    })
    cap = facility_capacity(df, kinds)
    station = next(k.capacity for k in kinds if k.id == "community_station")
    assert cap[0] == station and station == 600  # the value written in config/dashboard.toml
    assert cap[1] == 250  # its own 服务能力 wins
    assert cap[2] == 120  # an institution serves its beds
    assert np.isinf(cap[3]) and np.isinf(cap[4])  # no capacity configured: not limited
    assert facility_capacity(df.iloc[:0], kinds).shape == (0,)
