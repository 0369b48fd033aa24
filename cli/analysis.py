"""The analyses of the pages on the command line: walking coverage, siting, four-synchronous checks."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cli.common import (
    WALK_KINDS,
    InputError,
    _district_option,
    _district_townships,
    _network_options,
    _stored_ref,
    _walk_arguments,
    say,
)


def _coverage_stored(args: argparse.Namespace) -> int:
    """15分钟服务圈 of a stored district: the page's own service calls on the current versions."""
    from config import load_config
    from reports.cells import csv_bytes
    from services import base, coverage

    config = load_config()
    found = _stored_ref(args, WALK_KINDS)
    if found is None:
        return 2
    ref, district_name = found
    towns = base.base_layers(ref).townships
    if args.township and args.township not in set(towns["code"]):
        print(f"错误：乡镇代码 {args.township!r} 不在本区；可选：" + "、".join(f"{c} {n}" for c, n in
              zip(towns["code"], towns["name"], strict=True)), file=sys.stderr)
        return 2
    known = {k.id for k in config.facility_kinds}
    kinds = tuple(sorted(args.kinds.split(","))) if args.kinds else tuple(sorted(k.id for k in config.facility_kinds
                                                                                 if k.care_service))
    bad = [k for k in kinds if k not in known]
    if bad or args.category not in coverage.CATEGORY_IDS:
        print(f"错误：未知的设施类型 {bad}（可选：{', '.join(sorted(known))}）" if bad else
              f"错误：未知的老人类别 {args.category!r}（可选：{', '.join(coverage.CATEGORY_IDS)}）", file=sys.stderr)
        return 2
    eng = coverage.engine(ref)
    result = coverage.evaluate(eng, kinds, args.minutes, args.speed)
    fig = coverage.circle_figures(eng, result, towns, kinds, args.category, args.township)
    area = towns.loc[args.township, "name"] if args.township else district_name
    print(f"{area} {args.minutes:g} 分钟步行覆盖率 {fig.share:.1%}（步行可达 {fig.covered:,} ÷ 老人 {fig.elders:,}）；"
          f"直线覆盖率 {fig.straight:.1%}；未覆盖 {fig.elders - fig.covered:,} 人；计入设施 {fig.sites:,} 个")
    print(f"covered_share={fig.share:.6f} covered={fig.covered} elders={fig.elders} sites={fig.sites}")
    if args.out is not None:
        labels = coverage.table_labels()
        args.out.write_bytes(csv_bytes(fig.table.rename(columns=labels).reset_index()))
        print(f"已写出各乡镇覆盖表：{args.out}")
    return 0


def _walking(args: argparse.Namespace):
    from services.file_analyses import Walking

    return Walking(minutes=args.minutes, speed_mps=args.speed, max_snap_m=args.max_snap_m, cache_dir=args.cache_dir)


def _cmd_coverage(args: argparse.Namespace) -> int:
    import csv

    from reports.cells import safe_cell
    from services.file_analyses import FileInputError, point_coverage

    if args.district is not None:
        return _coverage_stored(args)
    if not (args.roads and args.facilities and args.demand and args.out):
        print("错误：给出 --district CODE（已存储的区县），或 --roads、--facilities、--demand 与 --out（文件）",
              file=sys.stderr)
        return 2
    walking = _walking(args)
    try:
        cov = point_coverage(args.roads, args.facilities, args.demand, walking, progress=say)
    except FileInputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "facility_id", "network_m", "walk_min", "covered", "straight_m"])
        w.writerows([safe_cell(pid), safe_cell(fid), *rest] for pid, fid, *rest in cov.rows())
    res, cutoff = cov.result, walking.cutoff_m
    print(f"步行 {args.minutes:g} 分钟（{args.speed:g} m/s，{cutoff:.0f} m）覆盖：{res.share():.2%}；"
          f"直线 {cutoff:.0f} m 覆盖：{res.straight_share():.2%}")
    print(f"covered_share={res.share():.4f} covered_weight={cov.covered_weight:g} total_weight={cov.total_weight:g}")
    return 0


def _cmd_siting(args: argparse.Namespace) -> int:
    from services.file_analyses import FileInputError, Floors, file_siting
    from services.siting import SitingRequest

    model = args.model or ("lscp" if args.target_share is not None else "budget" if args.budget is not None else "mclp")
    request = SitingRequest(model=model, k=args.k, target_share=args.target_share, budget=args.budget,
                            maximin=args.maximin, method=args.method, time_limit_s=args.time_limit)
    if model in ("mclp", "lscp") and (args.k is None) == (args.target_share is None):
        print("错误：请给出 --k（新增站点数）或 --target-share（目标覆盖率）其中之一 (give exactly one)", file=sys.stderr)
        return 2
    why = request.problem()
    if why:
        print(f"错误：{why}（--model {model}）", file=sys.stderr)
        return 2
    if args.district is not None:
        return _siting_stored(args, model, request)
    if not (args.roads and args.facilities and args.demand and args.candidates):
        print("错误：给出 --district CODE（已存储的区县，候选点由页面的方法生成，或 --candidates 文件），"
              "或 --roads、--facilities、--demand 与 --candidates（文件）", file=sys.stderr)
        return 2
    try:
        run = file_siting(args.roads, args.facilities, args.demand, args.candidates, _walking(args), request,
                          capacity=args.capacity, penalty_m=args.penalty_m,
                          floors=Floors(township=args.township_floor, rural=args.rural_floor, urban=args.urban_floor),
                          progress=say)
    except FileInputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return _siting_output(args, model, run.inputs, run.result)


def _siting_stored(args: argparse.Namespace, model: str, request) -> int:
    """优化选址 of a stored district: the page's inputs (its current care facilities, candidates generated where
    elders are not served, or --candidates) and its solve."""
    from config import load_config
    from services import coverage, scenarios, siting
    from services.access import Caller
    from services.base import walk_cutoff_m

    found = _stored_ref(args, WALK_KINDS)
    if found is None:
        return 2
    ref, name = found
    config = load_config()
    care = tuple(sorted(k.id for k in config.facility_kinds if k.care_service))
    cutoff = walk_cutoff_m(args.minutes, args.speed)
    eng = coverage.engine(ref)
    current = scenarios.current_evaluation(ref, care, cutoff)
    cands = None
    if args.candidates is not None:
        from services.file_analyses import FileInputError, candidate_file

        try:
            cands = candidate_file(args.candidates)
        except FileInputError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
    si = siting.inputs(ref, eng, current, cands, cutoff)
    print(f"{name} 现状：步行 {args.minutes:g} 分钟覆盖 {current.result.share():.2%}；候选点 {len(si.cands):,} 个"
          f"（{'文件' if cands is not None else '在未服务的老人附近生成'}）", flush=True)
    print(f"模型：{siting.MODEL_LABELS[model][0]}（{model}）", flush=True)
    try:
        result = siting.solve(ref, si, request, caller=Caller.cli(), progress=say)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return _siting_output(args, model, si, result)


def _siting_output(args: argparse.Namespace, model: str, si, result) -> int:
    """The chosen sites (or the curve) to --out and the figures to standard output, for both kinds of input."""
    import csv

    from reports.cells import safe_cell
    from services.siting import served_curve

    if model == "curve":
        served = served_curve(si, args.k)
        total = result.total_weight or 1.0
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["k", "covered_share_greedy", "covered_share_exact", "served_share_greedy"])
            for k in result.k:
                exact = result.exact.get(int(k))
                w.writerow([int(k), f"{result.greedy[k] / total:.6f}", "" if exact is None else
                            f"{exact.objective / total:.6f}", f"{served[k] / total:.6f}"])
        print(f"拐点：新增 {result.elbow} 个站点（覆盖 {result.greedy[result.elbow] / total:.2%}）；{result.solve_s:.2f} s")
        print(f"elbow={result.elbow} k_max={args.k} share_at_elbow={result.greedy[result.elbow] / total:.4f}")
        return 0
    if result.message:
        print(result.message)
    for name, got, floor in result.floor_shares:
        print(f"  {name}：{got:.2%}（下限 {floor:.0%}）{'' if got >= floor - 1e-9 else ' 未达标'}")
    where = dict(zip(si.cands.ids.tolist(), si.cands.lonlat.tolist(), strict=True))
    cost_of = dict(zip(si.cands.ids.tolist(), si.costs.tolist(), strict=True))
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "lon", "lat", "cost"])
        for cid in result.chosen:
            w.writerow([safe_cell(cid), *where[cid], f"{cost_of[cid]:g}"])
    what = {"pmedian": f"加权步行距离合计 {result.objective:,.0f} m", "capacitated": f"容量内服务 {result.share:.2%}"}
    print(f"新增 {len(result.chosen)} 个站点后{what.get(model, f'覆盖 {result.share:.2%}')}"
          f"（{result.solve_s:.2f} s，{result.method}）")
    bound = "" if result.bound is None else f"{result.bound:g}"
    print(f"status={result.status} objective={result.objective:g} bound={bound} sites={len(result.chosen)}")
    return 0 if result.status != "infeasible" else 3


def _write_four_sync(checks, out: Path) -> None:
    """The checks to ``out`` (name, status, failed rules, reasons; text neutralised) and their counts to stdout."""
    import csv

    from reports.cells import safe_cell
    from services.four_sync import OVERALL_ZH

    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "status", "failed_rules", "reasons"])
        w.writerows([safe_cell(c.project.name), c.status, ";".join(c.failed_rules), safe_cell("；".join(c.reasons))]
                    for c in checks)
    counts = {s: sum(c.status == s for c in checks) for s in OVERALL_ZH}
    print("，".join(f"{OVERALL_ZH[s]} {n}" for s, n in counts.items()) + f"；结果写入 {out}")


def _four_sync_stored(args: argparse.Namespace) -> int:
    """四同步检查 of a stored district: the page's own check of its current projects."""

    from services import four_sync

    found = _stored_ref(args, (*WALK_KINDS, "projects"))
    if found is None:
        return 2
    _write_four_sync(four_sync.checks(found[0])[0], args.out)
    return 0


def _cmd_four_sync(args: argparse.Namespace) -> int:
    from services.file_analyses import FileInputError, file_four_sync

    if args.projects is None:
        return _four_sync_stored(args)
    try:
        towns = _district_townships(args)
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    except InputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"错误：--as-of 应为 YYYY-MM-DD，得到 {args.as_of!r}", file=sys.stderr)
        return 2
    try:
        checks, walked = file_four_sync(args.projects, towns, as_of=as_of, roads=args.roads,
                                        facilities=args.facilities, speed_mps=args.speed, max_snap_m=args.max_snap_m,
                                        cache_dir=args.cache_dir, progress=say)
    except FileInputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    _write_four_sync(checks, args.out)
    if not walked:
        print("注意：未提供 --roads/--facilities，15分钟步行规则记为“未评估”（不计为合规）")
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    cov = sub.add_parser(
        "coverage",
        help="walking-network coverage of demand points by facilities",
        description=(
            "For every demand point, the nearest facility on foot within the cutoff "
            "(minutes x speed) on the street network, and the straight-line distance for "
            "comparison. FAC and DEM: GeoJSON points or CSV with id,lon,lat (DEM may have weight)."
        ),
    )
    _walk_arguments(cov, stored=True)
    cov.add_argument("--out", type=Path, default=None, help="output CSV: files mode, one row per demand point "
                     "(id,facility_id,network_m,walk_min,covered,straight_m); --district, the page's table by township")
    cov.add_argument("--district", default=None, help="a stored district (6-digit code): what 15分钟服务圈 shows, on "
                     "its current data")
    cov.add_argument("--township", default=None, help="--district: one township's figures (12-digit code)")
    cov.add_argument("--kinds", default=None, help="--district: facility kind ids, comma-separated (default: the "
                     "care kinds, as the page)")
    cov.add_argument("--category", default="elders", help="--district: elder category (elders, age_80_plus, "
                     "disabled, …)")
    cov.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    cov.set_defaults(func=_cmd_coverage)

    sit = sub.add_parser(
        "siting",
        help="choose new station sites with any siting model (coverage, capacity, walking, equity, budget, curve)",
        description=(
            "Existing facilities are kept; new sites are chosen among the candidates. --model: mclp (best --k for "
            "coverage; the default), lscp (fewest for --target-share), capacitated (best --k served within capacity: "
            "--capacity for new sites, a capacity column for facilities, a people column for the demand points when "
            "a point's weight is not its number of elders), pmedian (best --k for the least total walk), "
            "equity (best --k with township floors from the demand file's township column and rural floors from its "
            "rural column), budget (most coverage within --budget, candidate file's cost / build columns), curve "
            "(coverage for k = 1 … --k, the elbow; writes k,share rows). The last line is status=... objective=... "
            "bound=... sites=... (curve: elbow=... k_max=... share_at_elbow=...)."
        ),
    )
    _walk_arguments(sit, stored=True)
    sit.add_argument("--district", default=None, help="a stored district (6-digit code): its current care facilities "
                     "and elders, candidates generated as 优化选址 does (or --candidates)")
    sit.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    sit.add_argument("--candidates", required=False, type=Path,
                     help="candidate site points (GeoJSON or CSV id,lon,lat; optional cost, build = new|renovation)")
    sit.add_argument("--model", choices=["mclp", "lscp", "capacitated", "pmedian", "equity", "budget", "curve"],
                     default=None, help="the question (default mclp, or lscp with --target-share)")
    goal = sit.add_mutually_exclusive_group()
    goal.add_argument("--k", type=int, default=None, help="number of new sites (the curve: up to this many)")
    goal.add_argument("--target-share", type=float, default=None, help="covered share to reach, e.g. 0.9 (LSCP)")
    goal.add_argument("--budget", type=float, default=None, help="budget in the candidates' cost unit (budget model)")
    sit.add_argument("--capacity", type=float, default=None,
                     help="elders one new site serves (default: the config's capacity of [siting] new_site_kind)")
    sit.add_argument("--penalty-m", type=float, default=None,
                     help="p-median: the walk an elder beyond the limit counts at (default: the limit)")
    sit.add_argument("--maximin", action="store_true", help="equity: raise the lowest township instead of floors")
    sit.add_argument("--township-floor", type=float, default=None, help="equity: every township's floor (default: config)")
    sit.add_argument("--rural-floor", type=float, default=None, help="equity: the villages' floor (default: config)")
    sit.add_argument("--urban-floor", type=float, default=None,
                     help="equity: the urban communities' floor (default: config)")
    sit.add_argument("--time-limit", type=float, default=60.0, help="solver time limit in seconds (default 60)")
    sit.add_argument("--method", choices=["exact", "greedy"], default="exact", help="exact (HiGHS) or the fast heuristic")
    sit.add_argument("--out", required=True, type=Path,
                     help="output CSV: the chosen candidates id,lon,lat,cost (curve: k and the shares)")
    sit.set_defaults(func=_cmd_siting)

    fs = sub.add_parser(
        "four-sync",
        help="four-synchronous (四同步) checks of residential projects",
        description=(
            "Checks every project of the template (CSV or Excel) against the rules in "
            "config/dashboard.toml [four_sync]. Without --roads and --facilities the walking "
            "rule is reported as not evaluated, never as passed."
        ),
    )
    fs.add_argument("--projects", type=Path, default=None, help="project template, .csv (UTF-8) or .xlsx; without "
                    "it, the district's stored projects as 四同步检查 checks them (its roads and facilities, its "
                    "data date)")
    fs.add_argument("--roads", type=Path, default=None, help="OSM extract or line file, for the walking rule")
    fs.add_argument("--facilities", type=Path, default=None, help="elderly-care facility points, for the walking rule")
    _network_options(fs)
    fs.add_argument("--as-of", default=None, help="check date YYYY-MM-DD (default today): stages passed by then")
    fs.add_argument("--out", required=True, type=Path, help="output CSV: name,status,failed_rules,reasons")
    _district_option(fs)
    fs.set_defaults(func=_cmd_four_sync)

