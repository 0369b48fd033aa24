"""Command-line entry point: ``python cli.py <command> --help``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from data.db import database_url, make_engine
    from demo.loader import DatabaseNotEmptyError, install_demo, remove_demo, remove_demo_accounts

    started = time.perf_counter()
    try:
        engine = make_engine(database_url(args.database_url))
        if args.remove:
            print(remove_demo(engine))
            return 0
        if args.remove_accounts:
            print(remove_demo_accounts(engine))
            return 0
        result = install_demo(engine, seed=args.seed, force=args.force, progress=lambda m: print(m, flush=True))
    except (DatabaseNotEmptyError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"错误：无法连接或写入数据库（cannot reach or write the database）：{exc.orig}", file=sys.stderr)
        return 2
    print(result.message)
    if result.built:
        s = result.stats
        print(
            f"完成（{time.perf_counter() - started:.1f} s）：乡镇 {s['townships']}，村（社区） {s['communities']}，"
            f"道路节点 {s['road_nodes']:,}，老人 {s['elders']:,}，设施 {s['facilities']}，住宅项目 {s['projects']}"
        )
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    import uvicorn

    from data.db import database_url
    from ingest.app import create_app

    url = database_url(args.database_url)
    print(f"实时数据接入服务：http://{args.host}:{args.port}  （接口文档 /docs；数据库 {url.split('@')[-1]}）", flush=True)
    uvicorn.run(create_app(url), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    """A station's (or a reading system's) ingest token, issued and audited as on the 数据管理 page."""
    from data.db import create_schema, database_url, make_engine
    from services import tokens
    from services.access import Caller

    url = database_url(args.database_url)
    create_schema(make_engine(url))
    try:
        print(tokens.issue(url, Caller.cli(), station=args.station, label=args.label, stations=None))
    except tokens.TokenError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    """The password from standard input (its first line): never from the command line, where ps and the shell's
    history would show it."""
    if not args.password_stdin:
        print("错误：用 --password-stdin 从标准输入给出密码（不要写在命令行上）", file=sys.stderr)
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _cmd_townships(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine
    from services import accounts as account_service

    url = database_url(args.database_url)
    create_schema(make_engine(url))
    frame = account_service.townships(url, args.district)
    if frame.empty:
        where = f"区县 {args.district} " if args.district else ""
        print(f"错误：{where}没有乡镇（街道）数据：先导入（python cli.py import townships FILE --district CODE）",
              file=sys.stderr)
        return 2
    for row in frame.itertuples(index=False):
        print(f"{row.code}\t{row.name}\t{row.type}\t{row.district_code}")
    return 0


def _cmd_user(args: argparse.Namespace) -> int:
    from data import accounts
    from data.account_models import ROLE_ZH
    from data.db import create_schema, database_url, make_engine
    from services import accounts as account_service
    from services.access import Caller

    url = database_url(args.database_url)
    create_schema(make_engine(url))
    if args.action == "list":
        waiting = account_service.limited_logins(account_service.throttle_listing(url, Caller.cli()))
        for a in account_service.listing(url, Caller.cli()):
            state = "停用" if a["disabled"] else ("登录受限" if a["login"] in waiting else "正常")
            print(f"{a['login']:<20} {'、'.join(ROLE_ZH[r] for r in a['roles']):<16} {state:<8} "
                  f"{'、'.join(a['townships']) or '—'}")
        return 0
    password = ""
    if args.action in ("add", "reset-password"):
        password = _read_password(args)
        if password is None:
            return 2
    try:  # every change of an account is in the audit trail, with its outcome
        print(account_service.change(url, Caller.cli(), args.action, args.login, password=password,
                                     roles=tuple(getattr(args, "role", None) or ()),
                                     townships=tuple(getattr(args, "township", None) or ()),
                                     district=getattr(args, "district", None),
                                     display_name=getattr(args, "name", None) or "",
                                     external_id=getattr(args, "oidc_subject", None)))
    except accounts.AccountError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from data import audit
    from data.db import create_schema, database_url, make_engine, session_factory
    from services.audit import archive_folder

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    key = audit.audit_key()
    if args.action == "archive":  # rows older than the retention go to a file, never dropped
        from config import load_config
        from data.live_models import utc_now

        settings = load_config().audit
        folder = archive_folder()
        now = utc_now()
        try:
            with session_factory(engine).begin() as session:
                n, path = audit.archive(session, key, before=now - dt.timedelta(days=settings.retention_days),
                                        folder=folder, now=now)
                if n:
                    audit.record_now(session, "audit.archive", actor=audit.os_actor(), object=path.name,
                                     detail={"rows": n})
        except (ValueError, OSError) as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001  (PostgreSQL: the app's role may not delete audit rows)
            print(f"错误：归档须以数据库所有者运行（--database-url）：{str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print(f"已归档 {n:,} 条早于 {settings.retention_days} 天的审计记录到 {path}" if n else
              f"没有早于 {settings.retention_days} 天的审计记录")
        return 0
    verdicts = [audit.verify_archive(Path(f), key) for f in args.archive or ()]
    with session_factory(engine)() as session:  # the archive records, their files, the rows and the sealed head
        verdicts.append(audit.verify(session, key, folder=archive_folder()))
    for verdict in verdicts:
        print(verdict.why, file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if all(v.ok for v in verdicts) else 1


def _cmd_db(args: argparse.Namespace) -> int:
    """``db secure``: the roles, grants and row-level security policies of a PostgreSQL deployment, installed
    by the tables' owner; ``db check``: whether the connection of DATABASE_URL could bypass them."""
    from data import rls
    from data.db import create_schema, database_url, make_engine

    engine = make_engine(database_url(args.database_url))
    try:
        if args.action == "secure":
            create_schema(engine)
            passwords = [None, None]
            if not args.existing_roles:
                passwords = [sys.stdin.readline().rstrip("\r\n") for _ in range(2)]
                if not all(len(p) >= 12 for p in passwords):
                    print("错误：从标准输入逐行给出应用角色与接入角色的密码（各至少 12 个字符）", file=sys.stderr)
                    return 2
            rls.install(engine, app_role=args.app_role, app_password=passwords[0], ingest_role=args.ingest_role,
                        ingest_password=passwords[1])
            print(f"已启用行级安全：应用以角色 {args.app_role} 连接，实时数据接入服务以角色 {args.ingest_role} 连接")
            return 0
        problem = rls.role_problem(engine) if rls.installed(engine) else "尚未启用行级安全（python cli.py db secure）"
    except rls.RlsError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(problem or "连接角色不能绕过乡镇范围的行级安全策略", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from config import load_config
    from data.db import create_schema, database_url, make_engine, session_factory
    from ingest.simulator import SimulatorError, issue_tokens, load_stations, revoke_tokens, run

    if args.rate <= 0 or args.duration < 0:
        print("错误：--rate 须大于 0，--duration 不能为负（0 表示一直运行）", file=sys.stderr)
        return 2
    live, app_zone = load_config().live, load_config().app.zone
    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        stations = load_stations(session, live.station_kinds)
        tokens = issue_tokens(session, live, stations)
    try:
        report = run(stations, tokens, live, api=args.api, rate=args.rate, duration=args.duration, zone=app_zone,
                     heartbeat_s=args.heartbeat_s, seed=args.seed, progress=lambda m: print(m, flush=True))
    except SimulatorError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        with sessions.begin() as session:
            revoke_tokens(session)
    print(report.line())
    return 0


class InputError(Exception):
    """A bad input file or argument; the message says what to fix."""


def _walk_inputs(args: argparse.Namespace, point_files: dict[str, tuple[Path, bool]]):
    """The network and the snapped point files shared by `coverage` and `siting`.

    ``point_files``: name -> (path, weighted). Returns (net, {name: (table, snapped)}).
    Progress and unsnapped points go to stdout; bad input raises InputError.
    """
    from config import load_config
    from data.db import PROJECT_ROOT
    from geo.network import NetworkError, load_network
    from geo.points import PointFileError, read_points
    from geo.snapping import snap_points
    from services.coverage import entry_policy

    if args.minutes <= 0 or args.speed <= 0 or args.max_snap_m <= 0:
        msg = "--minutes、--speed 和 --max-snap-m 必须为正数 (must be positive)"
        raise InputError(msg)
    config = load_config()
    cache_dir = args.cache_dir or PROJECT_ROOT / config.network.cache_dir
    try:
        net = load_network(args.roads, cache_dir=cache_dir,
                           excluded_highways=frozenset(config.network.osm_excluded_highways),
                           entry=entry_policy(config))
        tables = {name: read_points(path, weighted=weighted) for name, (path, weighted) in point_files.items()}
    except (NetworkError, PointFileError) as exc:
        raise InputError(str(exc)) from None
    rep = net.components()
    print(f"路网：{net.n_nodes:,} 个节点，{net.n_edges:,} 条边，{rep.n_components} 个连通片"
          f"（最大片占 {rep.largest_share:.1%}，其余 {rep.detached_nodes:,} 个节点）", flush=True)
    out = {}
    for name, table in tables.items():
        snapped = snap_points(net, table.lonlat, table.ids, max_snap_m=args.max_snap_m)
        if snapped.n_unsnapped:
            shown = ", ".join(map(str, snapped.unsnapped_ids[:10]))
            more = " …" if snapped.n_unsnapped > 10 else ""
            print(f"警告：{snapped.n_unsnapped} 个{name}距路网超过 {args.max_snap_m:g} m，未能吸附：{shown}{more}")
        out[name] = (table, snapped)
    return net, out


def _stored_ref(args: argparse.Namespace, needs: tuple[str, ...]):
    """The current versions of ``--district`` (default: the config's) and the district's name, or None after
    saying what is missing: the district (with the ones there are), or a kind of data (with how to import it)."""
    from config import load_config
    from data.db import database_url
    from services import base

    url = database_url(args.database_url)
    district = args.district or load_config().app.district_code
    names = dict(base.district_list(url)[["code", "name"]].itertuples(index=False, name=None))
    if district not in names:
        print(f"错误：数据库中没有区县 {district}；现有：{'、'.join(f'{c} {n}' for c, n in names.items()) or '无'}",
              file=sys.stderr)
        return None
    ref = base.current_ref(url, district)
    missing = [k for k in needs if k not in ref.version_map]
    if missing:
        print(f"错误：{base.missing_message(district, missing)}", file=sys.stderr)
        return None
    return ref, names[district]


WALK_KINDS = ("district", "townships", "facilities", "elders", "roads")  # what a walking analysis reads


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
        args.out.write_bytes(csv_bytes(fig.table.reset_index()))
        print(f"已写出各乡镇覆盖表：{args.out}")
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    import csv

    import numpy as np

    from planning.coverage import CoverageModel
    from reports.cells import safe_cell
    from services.base import walk_cutoff_m

    if args.district is not None:
        return _coverage_stored(args)
    if not (args.roads and args.facilities and args.demand and args.out):
        print("错误：给出 --district CODE（已存储的区县），或 --roads、--facilities、--demand 与 --out（文件）",
              file=sys.stderr)
        return 2
    try:
        net, pts = _walk_inputs(args, {"设施": (args.facilities, False), "需求点": (args.demand, True)})
    except InputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    (fac, fac_s), (dem, dem_s) = pts["设施"], pts["需求点"]
    cutoff = walk_cutoff_m(args.minutes, args.speed)
    model = CoverageModel(net, dem_s, dem.weight, categories=("weight",), area_of_demand=np.zeros(len(dem)))
    res = model.evaluate(fac_s, cutoff_m=cutoff, straight_line_m=cutoff)
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "facility_id", "network_m", "walk_min", "covered", "straight_m"])
        for i, pid in enumerate(dem.ids):
            s = int(res.site[i])
            network = "" if s < 0 else f"{res.network_m[i]:.1f}"
            walk = "" if s < 0 else f"{res.network_m[i] / args.speed / 60.0:.2f}"
            straight = "" if not np.isfinite(res.straight_m[i]) else f"{res.straight_m[i]:.1f}"
            w.writerow([safe_cell(pid), "" if s < 0 else safe_cell(fac.ids[s]), network, walk, int(res.covered[i]),
                        straight])
    total = float(dem.weight.sum())
    covered = float(dem.weight[res.covered].sum())
    print(f"步行 {args.minutes:g} 分钟（{args.speed:g} m/s，{cutoff:.0f} m）覆盖：{res.share():.2%}；"
          f"直线 {cutoff:.0f} m 覆盖：{res.straight_share():.2%}")
    print(f"covered_share={res.share():.4f} covered_weight={covered:g} total_weight={total:g}")
    return 0


def _siting_labels(dem, args, config):
    """Labels (township index × 2 + rural) and floors of the demand file's township / rural columns."""
    import numpy as np

    from planning.siting import Floor

    towns = dem.township if dem.township is not None else np.full(len(dem), "", dtype=object)
    rural = dem.rural if dem.rural is not None else np.zeros(len(dem), dtype=bool)
    names = sorted(set(towns.tolist()) - {""})
    index = {t: i for i, t in enumerate(["", *names])}
    labels = np.array([index[t] for t in towns], dtype=np.int64) * 2 + rural
    township_floor = config.siting.township_floor if args.township_floor is None else args.township_floor
    rural_floor = config.siting.rural_floor if args.rural_floor is None else args.rural_floor
    floors = [Floor(t, (2 * index[t], 2 * index[t] + 1), township_floor) for t in names if township_floor > 0]
    if dem.rural is not None and rural.any() and rural_floor > 0:
        floors.append(Floor("农村", tuple(2 * i + 1 for i in index.values()), rural_floor))
    return labels, tuple(floors)


def _cmd_siting(args: argparse.Namespace) -> int:
    import numpy as np

    from config import load_config
    from geo.reach import PointIndex, Reach, walk_pairs
    from planning.candidates import candidate_costs, imported_candidates
    from planning.coverage import CoverageModel
    from planning.location import MODEL_LABELS, SitingInputs, SitingRequest, run_model
    from services.base import walk_cutoff_m

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
    config = load_config()
    try:
        net, pts = _walk_inputs(args, {"设施": (args.facilities, False), "候选点": (args.candidates, False),
                                       "需求点": (args.demand, True)})
    except InputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    (fac, fac_s), (cand, cand_s), (dem, dem_s) = pts["设施"], pts["候选点"], pts["需求点"]
    cutoff = walk_cutoff_m(args.minutes, args.speed)
    cov = CoverageModel(net, dem_s, dem.weight, categories=("weight",), area_of_demand=np.zeros(len(dem)))
    now = cov.evaluate(fac_s, cutoff_m=cutoff)
    print(f"现状：步行 {args.minutes:g} 分钟覆盖 {now.share():.2%}", flush=True)
    print(f"模型：{MODEL_LABELS[model][0]}（{model}）", flush=True)
    index = PointIndex(net, dem_s)
    cands = imported_candidates(cand.ids, cand.lonlat, cost=cand.cost, build=cand.build)
    labels, floors = _siting_labels(dem, args, config)
    new_cap = args.capacity
    if new_cap is None:
        kind = next(k for k in config.facility_kinds if k.id == config.siting.new_site_kind)
        new_cap = float(kind.capacity) if kind.capacity is not None else float("inf")
    si = SitingInputs(
        cands=cands, pairs=walk_pairs(Reach(net), index, cand_s, dem_s, cutoff_m=cutoff), on_net=cand_s.ok,
        existing=walk_pairs(Reach(net), index, fac_s, dem_s, cutoff_m=cutoff),
        existing_capacity=fac.capacity if fac.capacity is not None else np.full(len(fac), np.inf),
        new_capacity=new_cap, covered=now.covered, weights=dem.weight,
        people=dem.people if dem.people is not None else dem.weight,
        costs=candidate_costs(cands, new_build=config.siting.cost_new_build, renovation=config.siting.cost_renovation),
        labels=labels, floors=floors, cutoff_m=cutoff)
    try:
        result = run_model(si, request, time_limit_s=args.time_limit, penalty_m=args.penalty_m,
                           curve_exact_every=config.siting.curve_exact_every,
                           progress=lambda m: print(m, flush=True))
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return _siting_output(args, model, si, result)


def _siting_stored(args: argparse.Namespace, model: str, request) -> int:
    """优化选址 of a stored district: the page's inputs (its current care facilities, candidates generated where
    elders are not served, or --candidates) and its solve."""
    from config import load_config
    from planning.location import MODEL_LABELS
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
        from geo.points import PointFileError, read_points
        from planning.candidates import imported_candidates

        try:
            cand = read_points(args.candidates, weighted=False)
        except PointFileError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
        cands = imported_candidates(cand.ids, cand.lonlat, cost=cand.cost, build=cand.build)
    si = siting.inputs(ref, eng, current, cands, cutoff)
    print(f"{name} 现状：步行 {args.minutes:g} 分钟覆盖 {current.result.share():.2%}；候选点 {len(si.cands):,} 个"
          f"（{'文件' if cands is not None else '在未服务的老人附近生成'}）", flush=True)
    print(f"模型：{MODEL_LABELS[model][0]}（{model}）", flush=True)
    try:
        result = siting.solve(ref, si, request, caller=Caller.cli(), progress=lambda m: print(m, flush=True))
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return _siting_output(args, model, si, result)


def _siting_output(args: argparse.Namespace, model: str, si, result) -> int:
    """The chosen sites (or the curve) to --out and the figures to standard output, for both kinds of input."""
    import csv

    from planning.location import served_curve
    from reports.cells import safe_cell

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

    from planning.four_sync import OVERALL_ZH
    from reports.cells import safe_cell

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
    import datetime as dt

    from config import load_config
    from imports.projects import ProjectFileError, read_projects
    from planning.four_sync import check_projects, walk_access
    from services.base import walk_cutoff_m

    if args.projects is None:
        return _four_sync_stored(args)
    config = load_config()
    try:
        towns = _district_townships(args)
    except InputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    if (args.roads is None) != (args.facilities is None):
        print("错误：--roads 与 --facilities 需同时给出（或都不给，步行规则记为未评估）", file=sys.stderr)
        return 2
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    except ValueError:
        print(f"错误：--as-of 应为 YYYY-MM-DD，得到 {args.as_of!r}", file=sys.stderr)
        return 2
    try:
        projects = read_projects(args.projects, township_codes=towns)
    except ProjectFileError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(f"读取 {len(projects)} 个项目（{args.projects.name}），按 {as_of} 检查", flush=True)
    rules = config.four_sync.rules
    walks = None
    walk_rule = next((r for r in rules if r.kind == "walk"), None)
    if args.roads is not None and walk_rule is not None:
        args.minutes = walk_rule.minutes
        try:
            net, pts = _walk_inputs(args, {"设施": (args.facilities, False)})
        except InputError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
        walks = walk_access(net, pts["设施"][1], [(p.lon, p.lat) for p in projects],
                            cutoff_m=walk_cutoff_m(walk_rule.minutes, args.speed), max_snap_m=args.max_snap_m)
    _write_four_sync(check_projects(projects, rules, as_of=as_of, default_grace=config.four_sync.grace_days,
                                    walks=walks), args.out)
    if walks is None:
        print("注意：未提供 --roads/--facilities，15分钟步行规则记为“未评估”（不计为合规）")
    return 0


def _district_townships(args: argparse.Namespace) -> set[str]:
    """The township codes of --district: from the database when it holds the district, else the official list."""
    from demo.sources import district_township_codes

    try:
        ref = _data_ref(args)
    except InputError:
        ref = None
    if ref is not None and "townships" in ref.version_map:
        from data.db import make_engine, session_factory
        from data.repository import Repository

        engine = make_engine(ref.url)
        with session_factory(engine)() as session:
            codes = set(Repository(session, ref.district, ref.version_map).townships()["code"])
        engine.dispose()
        return codes
    try:
        return district_township_codes(args.district or _default_district())
    except ValueError:
        msg = f"区县 {args.district} 不在数据库中，也不在内置的官方区划代码表中；请先导入它的乡镇（街道）"
        raise InputError(msg) from None


def _data_ref(args: argparse.Namespace):
    """The current versions of --district in --database-url; InputError naming the districts there."""
    from data.db import LegacySchemaError, create_schema, database_url, make_engine, session_factory
    from data.versions import VersionError, data_ref

    url = database_url(args.database_url)
    engine = make_engine(url)
    try:
        create_schema(engine)
        with session_factory(engine)() as session:
            return data_ref(session, url, args.district or _default_district())
    except (VersionError, LegacySchemaError) as exc:
        raise InputError(str(exc)) from None
    finally:
        engine.dispose()


def _default_district() -> str:
    from config import load_config

    return load_config().app.district_code


def _district_option(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument("--district", required=required, default=None,
                   help="6-digit district code" + ("" if required else " (default: [app] district_code of the config)"))
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")


def _cmd_network(args: argparse.Namespace) -> int:
    """`network check`: the stored district's walking network and where its points join it."""
    from services import coverage

    found = _stored_ref(args, WALK_KINDS)
    if found is None:
        return 2
    ref, name = found
    check = coverage.network_check(ref)
    for line in network_check_lines(check, name, limit=args.list):
        print(line)
    return 0


def network_check_lines(check, district_name: str, *, limit: int) -> list[str]:
    """The text of `network check` (also what the tests read)."""
    import numpy as np

    from services.coverage import SET_ZH, reason_label

    r = check.report
    out = [f"{district_name} 步行路网：{r.n_nodes:,} 个节点，{r.n_edges:,} 条边，{r.n_components} 个连通片",
           f"  主网：{r.main_nodes:,} 个节点，{r.main_km:,.1f} km",
           f"  碎片：{r.fragments} 片（{r.fragment_nodes:,} 个节点，{r.fragment_km:,.2f} km）——仅当 "
           f"{check.max_snap_m:g} m 内别无道路时作入口",
           f"  其他独立片：{r.other_pieces}（够大，照常作入口）",
           f"入口规则（[network.entry]：被避开的边按远 {check.avoid_m:g} m 计，仍可步行通过）："]
    out += [f"  {u.label_zh}（{u.id}）：{u.edges:,} 条边，{u.km:,.2f} km" for u in r.rules]
    if not any(u.edges for u in r.rules):
        out.append("  （本区道路没有这些规则读取的标签，例如不是从 OSM 导入的：规则无处可用）")
    for moved in r.moved:
        zh = SET_ZH.get(moved.name, moved.name)
        out.append(f"入口不是最近边的{zh}：{len(moved.ids):,} / {moved.n_points:,}")
        if len(moved.ids):
            added = moved.entry_m - moved.plain_m
            out.append(f"  入口距离增加：中位 {np.median(added):,.1f} m，最多 {added.max():,.1f} m")
        order = np.argsort(-(moved.entry_m - moved.plain_m), kind="stable")[:limit]
        labels = check.labels.get(moved.name, {})
        for i in order:
            pid = moved.ids[i]
            out.append(f"  {zh} {pid} {labels.get(pid, '')}：最近边 {moved.plain_m[i]:,.1f} m"
                       f"（{reason_label(check, moved.reason[i])}）→ 入口 {moved.entry_m[i]:,.1f} m"
                       f"（+{moved.entry_m[i] - moved.plain_m[i]:,.1f} m）")
        if len(moved.ids) > limit:
            out.append(f"  …… 另有 {len(moved.ids) - limit:,} 个（--list N 列出更多）")
    return out


def _cmd_districts(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.models import KIND_ZH
    from data.versions import current_versions, districts, versions

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    with session_factory(engine)() as session:
        listing = districts(session)
        if listing.empty:
            print("数据库中还没有区县（no districts）。运行 `python cli.py demo` 或 `python cli.py import district …`。")
            return 0
        for d in listing.itertuples():
            table = versions(session, d.code)
            cur = table[table["current"]].set_index("kind")
            parts = [f"{KIND_ZH[k]} v{cur.loc[k, 'id']}（{cur.loc[k, 'data_date']}，{cur.loc[k, 'rows']:,} 行）"
                     for k in KIND_ZH if k in cur.index]
            missing = [KIND_ZH[k] for k in KIND_ZH if k not in current_versions(session, d.code)]
            print(f"{d.code} {d.name}{'（演示）' if d.is_demo else ''}：" + "；".join(parts)
                  + (f"；缺：{'、'.join(missing)}" if missing else ""))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.versions import VersionError, get_district, versions

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    with session_factory(engine)() as session:
        try:
            get_district(session, args.district)
            table = versions(session, args.district, args.kind)
        except VersionError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
    if table.empty:
        print(f"{args.district} 还没有导入过数据版本")
        return 0
    print("id\tkind\tcurrent\tdata_date\trows\tsource\tsha256\tcreated_at\tcreated_by")
    for r in table.itertuples():
        print(f"{r.id}\t{r.kind}\t{'*' if r.current else ''}\t{r.data_date}\t{r.rows}\t{r.source}\t"
              f"{r.sha256[:12]}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.created_by}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.models import KIND_ZH
    from data.versions import VersionError, rollback, version_rows

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    try:
        with session_factory(engine).begin() as session:
            was, now = rollback(session, args.district, args.kind)
            v = version_rows(session, now)
            print(f"{args.district} {KIND_ZH[args.kind]}：当前版本由 v{was} 回退为 v{now}"
                  f"（数据日期 {v.data_date}，{v.row_count:,} 行，来源 {v.source_name}）")
    except VersionError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    import datetime as dt

    from config import load_config
    from data.db import database_url, make_engine
    from imports.store import ImportOptions, ImportRefused, run_import

    district = args.code if args.kind == "district" else args.district
    if not district or not district.isdigit() or len(district) != 6:
        need = "--code" if args.kind == "district" else "--district"
        print(f"错误：{need} 应为 6 位区县代码（如 120103），得到 {district!r}", file=sys.stderr)
        return 2
    try:
        data_date = dt.date.fromisoformat(args.data_date) if args.data_date else None
    except ValueError:
        print(f"错误：--data-date 应为 YYYY-MM-DD，得到 {args.data_date!r}", file=sys.stderr)
        return 2
    options = ImportOptions(crs=args.crs, encoding=args.encoding, sheet=args.sheet, layer=args.layer,
                            mapping=args.mapping, data_date=data_date, dry_run=args.dry_run,
                            name=getattr(args, "name", None), margin_m=getattr(args, "margin_m", None))
    engine = make_engine(database_url(args.database_url))
    try:
        result = run_import(engine, district, args.kind, args.file, load_config(), options,
                            progress=lambda m: print(m, flush=True))
    except ImportRefused as exc:
        prepared = exc.prepared
        if prepared is not None:
            for p in prepared.problems:
                print(p.line(), file=sys.stderr)
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for p in result.prepared.warnings:
        print(p.line())
    if result.by_township:
        print("按乡镇（街道）：" + "，".join(f"{c} {n}" for c, n in sorted(result.by_township.items())))
    if result.version_id is None:
        print(f"dry run: {args.kind} {result.rows} rows would be imported; nothing stored")
        return 0
    print(f"imported {args.kind}: {result.rows} rows, version {result.version_id}")
    return 0


def _cmd_template(args: argparse.Namespace) -> int:
    import os

    from config import load_config
    from reports.import_template import template_xlsx
    from services.data_admin import FIELDS

    towns = None
    if args.district:
        try:
            towns = sorted(_district_township_names(args))
        except InputError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    data = template_xlsx(args.kind, FIELDS[args.kind], load_config(), townships=towns)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    print(f"已写出 {args.kind} 模板：{out}")
    return 0


def _district_township_names(args: argparse.Namespace) -> list[str]:
    from data.db import make_engine, session_factory
    from data.repository import Repository

    ref = _data_ref(args)
    engine = make_engine(ref.url)
    with session_factory(engine)() as session:
        names = list(Repository(session, ref.district, ref.version_map).townships()["name"])
    engine.dispose()
    return names


def _walk_arguments(p: argparse.ArgumentParser, *, stored: bool = False) -> None:
    need = "" if not stored else " (files mode; without --district)"
    p.add_argument("--roads", required=not stored, type=Path,
                   help="OSM extract (.osm.pbf/.osm/.osm.bz2) or lines (.geojson/.gpkg/.shp)" + need)
    p.add_argument("--facilities", required=not stored, type=Path,
                   help="existing facility points (GeoJSON or CSV id,lon,lat)" + need)
    p.add_argument("--demand", required=not stored, type=Path,
                   help="demand points with optional weight (GeoJSON or CSV)" + need)
    p.add_argument("--minutes", type=float, default=None,
                   help="walking time cutoff in minutes (default: [scorecard] walk_minutes of the config, 15)")
    _network_options(p)


def _network_options(p: argparse.ArgumentParser) -> None:
    """Walking speed, snapping distance and network cache, shared by every command that walks."""
    p.add_argument("--speed", type=float, default=None,
                   help="walking speed in m/s (default: [walking] speed_mps of the config, 1.0 for elders)")
    p.add_argument("--max-snap-m", type=float, default=None,
                   help="max distance to the network in metres (default: [walking] max_snap_m of the config, 300)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="folder for built networks (default from config/dashboard.toml: var/cache)")


def _cmd_report(args: argparse.Namespace) -> int:
    import os

    from reports.content import ReportError, ReportRequest
    from reports.export import export
    from reports.static_map import FontMissingError

    started = time.perf_counter()
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip()) if args.sections else None
    try:
        request = ReportRequest(township=args.township, scenario_id=args.scenario, since=args.since,
                                **({"sections": sections} if sections else {}))
        ref = _data_ref(args)
        r, data = export(ref, request, args.format, progress=lambda _f, m: print(m, flush=True))
    except (ReportError, FontMissingError, InputError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    from services import audit

    audit.record(ref.url, "report.export", object=f"{ref.district} {r.title}", township=request.township or "",
                 detail={"formats": [args.format], "sections": list(request.sections), "scenario": args.scenario,
                         "since": str(args.since or ""), "file": out.name})
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, out)  # a scheduled export never leaves a half-written file behind
    print(f"已生成 {r.title}（{args.format}，{len(data) / 1024:,.0f} KB，{time.perf_counter() - started:.1f} s）：{out}")
    return 0


def _date_arg(text: str):
    """An argparse type: YYYY-MM-DD, or a message naming the form (argparse exits 2 with it)."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"应为 YYYY-MM-DD 形式的日期，得到 {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="养老服务一张图 (Eldercare One-Map) command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="build the demo district database (idempotent)",
        description=(
            "Build the synthetic Jinghai demo district (real outline and official codes, "
            "synthetic everything else) into the database. A second run with the same seed "
            "skips the build."
        ),
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives identical data (default 42)")
    demo.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL; default $DATABASE_URL, else sqlite:///var/eldercare.db",
    )
    demo.add_argument("--force", action="store_true", help="rebuild the demo district even if the same demo is present")
    demo.add_argument("--remove", action="store_true",
                      help="delete the demo district (its data and scenarios); imported districts are never touched")
    demo.add_argument("--remove-accounts", action="store_true",
                      help="delete the demo accounts only (their sign-in is the published password), keeping the "
                      "demo district")
    demo.set_defaults(func=_cmd_demo)

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

    ing = sub.add_parser(
        "ingest",
        help="run the live ingest service (heartbeats, events, alerts; HTTP API)",
        description=("The single writer of the live tables: POST /v1/heartbeats and /v1/events with a "
                     "station's bearer token; GET /v1/stations/status and /v1/alerts with a reader token. "
                     "OpenAPI docs at /docs. Database: $DATABASE_URL, else the embedded SQLite file."),
    )
    ing.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ing.add_argument("--port", type=int, default=8700, help="port (default 8700)")
    ing.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    ing.set_defaults(func=_cmd_ingest)

    sim = sub.add_parser(
        "simulate",
        help="post realistic live traffic for the demo stations through the ingest API",
        description=("Heartbeats and events for every operating station (live.station_kinds) through the real "
                     "HTTP API of `python cli.py ingest`: opening hours, occasional SOS and falls, 12349 tickets, "
                     "a silent station, an over-capacity station, a burst with re-sent events. Issues its own "
                     "station tokens and revokes them when it stops."),
    )
    sim.add_argument("--rate", type=float, default=2.0, help="events per second (default 2)")
    sim.add_argument("--duration", type=float, default=0, help="seconds to run (default 0: until Ctrl-C)")
    sim.add_argument("--heartbeat-s", type=float, default=30, help="seconds between a station's heartbeats")
    sim.add_argument("--api", default="http://127.0.0.1:8700", help="ingest service (default http://127.0.0.1:8700)")
    sim.add_argument("--seed", type=int, default=7, help="random seed (which station is silent, the event mix)")
    sim.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    sim.set_defaults(func=_cmd_simulate)

    tok = sub.add_parser("token", help="issue an ingest API token (printed once; only its hash is stored)")
    who = tok.add_mutually_exclusive_group(required=True)
    who.add_argument("--station", default=None, help="facility code of the station that will post with it")
    who.add_argument("--reader", action="store_true", help="a token for another system reading status and alerts")
    tok.add_argument("--label", default="", help="a note saying who holds the token")
    tok.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    tok.set_defaults(func=_cmd_token)

    from data.account_models import ROLES

    usr = sub.add_parser("user", help="dashboard accounts: add, list, disable, reset-password, unlock, link")
    users = usr.add_subparsers(dest="action", required=True, metavar="ACTION")
    ua = users.add_parser("add", help="a new account (the password from standard input; changed at first sign-in)")
    ua.add_argument("login")
    ua.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    ua.add_argument("--township", action="append", default=None, help="12-digit township code (township heads; "
                    "repeat for several)")
    ua.add_argument("--district", default=None, help="6-digit district code the account is limited to")
    ua.add_argument("--name", default=None, help="the person's name as shown in the dashboard")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.add_argument("--oidc-subject", default=None, help="oidc mode: the identity provider's subject (sub) of "
                    "this person")
    users.add_parser("list", help="every account with its roles, state and townships")
    link = users.add_parser("link", help="oidc mode: map an identity provider's subject to an account")
    link.add_argument("login")
    link.add_argument("--oidc-subject", default=None, help="the provider's subject (sub); omit to unmap")
    tw = users.add_parser("townships", help="change the townships an account is limited to (see: cli.py townships)")
    tw.add_argument("login")
    tw.add_argument("--township", action="append", default=None, help="12-digit township code (repeat for several; "
                    "none: not limited)")
    tw.add_argument("--district", default=None, help="6-digit district code the townships must belong to")
    for action, text in (("disable", "stop an account (its sessions end; it stays in the audit trail)"),
                         ("reset-password", "a new password from standard input; to be changed at next sign-in"),
                         ("unlock", "clear the failed sign-ins counted for a login (alone and with any address)")):
        one = users.add_parser(action, help=text)
        one.add_argument("login")
        if action == "reset-password":
            one.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for one in users.choices.values():
        one.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    usr.set_defaults(func=_cmd_user)

    twp = sub.add_parser("townships", help="list the townships of the current data (code, name, type): the codes "
                         "an account may be limited to")
    twp.add_argument("--district", default=None, help="6-digit district code (default: every district)")
    twp.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    twp.set_defaults(func=_cmd_townships)

    dbp = sub.add_parser("db", help="PostgreSQL: install the township scope's row-level security (secure) or check "
                         "the connection (check)")
    dbp.add_argument("action", choices=["secure", "check"])
    dbp.add_argument("--app-role", default="eldercare_app", help="the dashboard's role (secure)")
    dbp.add_argument("--ingest-role", default="eldercare_ingest", help="the ingest service's role (secure)")
    dbp.add_argument("--existing-roles", action="store_true", help="secure: the two roles exist already (made by an "
                     "administrator): install grants and policies only, read no password (otherwise the owner needs "
                     "CREATEROLE)")
    dbp.add_argument("--database-url", default=None, help="secure: the tables' owner (with CREATEROLE, or "
                     "--existing-roles); check: the app's URL")
    dbp.set_defaults(func=_cmd_db)

    aud = sub.add_parser("audit", help="the audit trail: verify its HMAC chain (exit 1 at the first broken row), or "
                         "archive the rows older than [audit] retention_days to a file")
    aud.add_argument("action", choices=["verify", "archive"])
    aud.add_argument("--archive", action="append", default=None, metavar="FILE",
                     help="verify: check these archive files as well")
    aud.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    aud.set_defaults(func=_cmd_audit)

    rep = sub.add_parser("report", help="export the report of the district or one township (PDF, HTML map, Excel, GIS)",
                         description="Scheduled exports: the same report as the 报告导出 page.")
    rep.add_argument("--township", default=None, help="township code (12 digits); default: the whole district")
    rep.add_argument("--scenario", type=int, default=None, help="scenario id: add its before/after section")
    rep.add_argument("--format", required=True, choices=["pdf", "html", "xlsx", "gpkg", "geojson"],
                     help="pdf: A4 report; html: offline interactive map; xlsx: the tables; gpkg / geojson: the layers")
    rep.add_argument("--sections", default=None,
                     help="comma-separated: map,scorecard,coverage,gaps,four_sync,scenario (default: all)")
    rep.add_argument("--since", type=_date_arg, default=None,
                     help="YYYY-MM-DD: add 与基期对比, every target then (the data as it stood that day) and now")
    rep.add_argument("--out", required=True, help="file to write")
    _district_option(rep)
    rep.set_defaults(func=_cmd_report)

    imp = sub.add_parser(
        "import", help="import a district's own file as a new data version (all or nothing)",
        description=("Read, map, check and store one file as a new current version of KIND for the district. "
                     "Every problem is listed (row, column, value, why, fix) and nothing is stored when any is an "
                     "error (exit 2). The mapping used is printed first; the last line is "
                     "'imported KIND: N rows, version V'."))
    imp_kinds = imp.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, help_text in (("district", "the district outline (GeoJSON, Shapefile .zip/folder, GeoPackage)"),
                            ("townships", "township / street polygons with 12-digit codes (GIS file)"),
                            ("communities", "village / community polygons or points with 12-digit codes (GIS file, or a sheet "
                                            "with longitude / latitude)"),
                            ("facilities", "facility list (CSV, .xlsx, .xls) with longitude / latitude"),
                            ("elders", "elder counts per village / community (CSV, .xlsx, .xls)"),
                            ("roads", "an OSM extract (.osm.pbf/.osm/.osm.bz2) of any size, or road lines (GIS file)"),
                            ("projects", "residential projects, the four-sync template (CSV or .xlsx): the full list")):
        k = imp_kinds.add_parser(kind, help=help_text)
        k.add_argument("file", type=Path)
        if kind == "district":
            k.add_argument("--code", required=True, help="6-digit district code (adcode)")
            k.add_argument("--name", default=None, help="district name (required the first time)")
        else:
            k.add_argument("--district", required=True, help="6-digit district code")
        k.add_argument("--crs", default=None,
                       help="tables: wgs84|cgcs2000|gcj02|bd09|EPSG:N|auto (default auto); GIS files: "
                            "override or supply the file's CRS (gcj02 / bd09 for AMap / Baidu outlines)")
        k.add_argument("--encoding", default=None, help="force a text encoding (default: detected; e.g. gbk)")
        k.add_argument("--sheet", default=None, help="Excel sheet name or number (default: the first)")
        k.add_argument("--layer", default=None, help="GeoPackage layer")
        k.add_argument("--mapping", type=Path, default=None, help="TOML: [columns] field = column, [values.kind] …")
        k.add_argument("--data-date", default=None, help="统计截止日期 YYYY-MM-DD (default today)")
        k.add_argument("--dry-run", action="store_true", help="read and check only; store nothing")
        if kind == "roads":
            k.add_argument("--margin-m", type=float, default=None,
                           help="keep roads this far beyond the district outline (default [imports] margin_m: 2000)")
        k.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
        k.set_defaults(func=_cmd_import)

    tpl = sub.add_parser("template", help="write a blank Excel template (Chinese headers, example row, drop-downs)")
    tpl.add_argument("kind", choices=["facilities", "elders"])
    tpl.add_argument("--out", required=True, help="the .xlsx file to write")
    tpl.add_argument("--district", default=None, help="fill the township drop-down with this district's townships")
    tpl.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    tpl.set_defaults(func=_cmd_template)

    net = sub.add_parser("network", help="the stored district's walking network: pieces, entry rules, and the "
                         "points whose entry point is not their nearest edge")
    net_sub = net.add_subparsers(dest="action", required=True)
    chk = net_sub.add_parser("check", help="components, fragments, the edges each entry rule avoids, the points moved "
                             "and by how much ([network.entry] of the config)")
    _district_option(chk)
    chk.add_argument("--list", type=int, default=20, help="list this many moved points per set, largest move first")
    chk.set_defaults(func=_cmd_network)

    dis = sub.add_parser("districts", help="list the districts in the database with their current data versions")
    dis.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    dis.set_defaults(func=_cmd_districts)

    from data.models import DATA_KINDS

    ver = sub.add_parser("versions", help="list a district's data versions (newest first; * marks the current)")
    _district_option(ver, required=True)
    ver.add_argument("--kind", choices=DATA_KINDS, default=None, help="one kind only")
    ver.set_defaults(func=_cmd_versions)

    rb = sub.add_parser("rollback", help="make the previous version of one kind current again (nothing is deleted)")
    _district_option(rb, required=True)
    rb.add_argument("--kind", choices=DATA_KINDS, required=True)
    rb.set_defaults(func=_cmd_rollback)
    return parser


# Commands that run as the tables' owner on a secured PostgreSQL database; every other command reads or changes
# district data and runs with the app role's URL (README "Serving an intranet")
OWNER_COMMANDS = ("db", "audit", "ingest", "simulate", "user")


def _owner_sees_nothing(args: argparse.Namespace) -> str | None:
    """Why this command would run blind (the owner's connection to a secured database), or None."""
    url = getattr(args, "database_url", None)
    from data.db import database_url, make_engine

    url = database_url(url)
    if not url.startswith("postgresql"):
        return None
    from data import rls

    engine = make_engine(url)
    try:
        return rls.visibility_problem(engine)
    finally:
        engine.dispose()


def _walk_defaults(args: argparse.Namespace) -> None:
    """The walking options a command was not given, from the configuration the pages use (so a command and a
    page on the same data agree without repeating its settings)."""
    if not any(getattr(args, name, 0) is None for name in ("minutes", "speed", "max_snap_m")):
        return
    from config import load_config

    config = load_config()
    for name, value in (("minutes", float(config.scorecard.walk_minutes)), ("speed", config.walking.speed_mps),
                        ("max_snap_m", config.walking.max_snap_m)):
        if getattr(args, name, 0) is None:
            setattr(args, name, value)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _walk_defaults(args)
    if args.command not in OWNER_COMMANDS:
        problem = _owner_sees_nothing(args)
        if problem:
            print(f"错误：{problem}", file=sys.stderr)
            return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
