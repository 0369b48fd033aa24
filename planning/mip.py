"""A small builder for the siting models' mixed-integer programs, solved with HiGHS (highspy).

Columns and rows are added in blocks of arrays (a row block in compressed
sparse row form), so a model of a million pairs is built without a Python
loop per row. :meth:`Model.solve` returns the status, the column values, the
objective and the proven bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np


@dataclass(frozen=True)
class Outcome:
    status: str  # "optimal" | "time_limit" | "infeasible"
    x: np.ndarray
    objective: float
    bound: float


class Model:
    def __init__(self, *, maximise: bool) -> None:
        self.maximise = maximise
        self._cost: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_cols = 0
        self.n_rows = 0

    def add_cols(self, cost, *, lower=0.0, upper=1.0, integer: bool = False) -> np.ndarray:
        """Add len(cost) columns; returns their indices."""
        cost = np.asarray(cost, dtype=np.float64)
        n = len(cost)
        self._cost.append(cost)
        self._lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy())
        self._integer.append(np.full(n, integer))
        idx = np.arange(self.n_cols, self.n_cols + n)
        self.n_cols += n
        return idx

    def add_rows(self, indptr, indices, values, *, lower=-np.inf, upper=np.inf) -> np.ndarray:
        """Add rows given in CSR form (``indptr`` of length rows + 1); returns their indices."""
        indptr = np.asarray(indptr, dtype=np.int64)
        n = len(indptr) - 1
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy()
        self._rows.append((indptr, np.asarray(indices, dtype=np.int64), np.asarray(values, dtype=np.float64), lo, hi))
        idx = np.arange(self.n_rows, self.n_rows + n)
        self.n_rows += n
        return idx

    def add_row(self, indices, values, *, lower=-np.inf, upper=np.inf) -> int:
        indices = np.asarray(indices, dtype=np.int64)
        return int(self.add_rows([0, len(indices)], indices, values, lower=lower, upper=upper)[0])

    def solve(self, *, time_limit_s: float, integer: bool = True, start: np.ndarray | None = None,
              rel_gap: float = 0.0) -> Outcome:
        if self.n_cols == 0:
            return Outcome("optimal", np.zeros(0), 0.0, 0.0)
        h, mip = self.build(time_limit_s=time_limit_s, integer=integer, rel_gap=rel_gap)
        if start is not None and mip:
            set_start(h, start)
        h.run()
        return outcome(h, self.n_cols, mip, time_limit_s)

    def build(self, *, time_limit_s: float, integer: bool = True, rel_gap: float = 0.0):
        """The HiGHS object holding this model; returns (highs, is_mip)."""
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", float(rel_gap))
        h.setOptionValue("threads", 1)
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.sense_ = highspy.ObjSense.kMaximize if self.maximise else highspy.ObjSense.kMinimize
        lp.col_cost_ = np.concatenate(self._cost) if self._cost else np.zeros(0)
        lp.col_lower_ = np.concatenate(self._lower) if self._lower else np.zeros(0)
        lp.col_upper_ = np.concatenate(self._upper) if self._upper else np.zeros(0)
        starts, index, value, lower, upper = [np.zeros(1, dtype=np.int64)], [], [], [], []
        offset = 0
        for indptr, idx, val, lo, hi in self._rows:
            starts.append(indptr[1:] + offset)
            offset += int(indptr[-1])
            index.append(idx)
            value.append(val)
            lower.append(lo)
            upper.append(hi)
        lp.num_row_ = self.n_rows
        lp.row_lower_ = np.concatenate(lower) if lower else np.zeros(0)
        lp.row_upper_ = np.concatenate(upper) if upper else np.zeros(0)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.concatenate(starts).astype(np.int32)
        lp.a_matrix_.index_ = (np.concatenate(index) if index else np.zeros(0)).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(value) if value else np.zeros(0)
        lp.a_matrix_.num_col_ = self.n_cols
        lp.a_matrix_.num_row_ = self.n_rows
        is_int = np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=bool)
        mip = integer and bool(is_int.any())
        if mip:
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in is_int]
        h.passModel(lp)
        return h, mip


def set_start(h, start: np.ndarray) -> None:
    sol = highspy.HighsSolution()
    sol.col_value = list(np.asarray(start, dtype=np.float64))
    h.setSolution(sol)


def outcome(h, n_cols: int, mip: bool, time_limit_s: float) -> Outcome:
    """The status, values, objective and bound of the last run of ``h``."""
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kModelEmpty:
        return Outcome("optimal", np.zeros(n_cols), 0.0, 0.0)
    if status == highspy.HighsModelStatus.kInfeasible:
        return Outcome("infeasible", np.zeros(n_cols), float("nan"), float("nan"))
    if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
        msg = f"HiGHS ended with status {h.modelStatusToString(status)}"
        raise RuntimeError(msg)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    if status == highspy.HighsModelStatus.kTimeLimit and (len(x) != n_cols or info.primal_solution_status < 2):
        msg = f"no feasible solution found within the time limit ({time_limit_s:g} s)"
        raise RuntimeError(msg)
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if mip else objective
    state = "optimal" if status == highspy.HighsModelStatus.kOptimal else "time_limit"
    if state == "optimal":  # a dual bound a hair beyond the objective is solver tolerance, not information
        bound = objective
    return Outcome(state, x, objective, bound)


def csr_from_groups(groups: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int):
    """CSR arrays of rows given per entry (``groups`` = the row of each entry)."""
    order = np.argsort(groups, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(groups, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order], values[order]
