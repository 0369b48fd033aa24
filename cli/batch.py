"""``python cli.py batch``: every district of a city or a province (or those named), one task each, on Dask's
distributed scheduler — a local cluster of N worker processes, or a running cluster given its address."""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _client(args: argparse.Namespace):
    """A client of the cluster asked for: the scheduler at --scheduler, else a local cluster of --workers
    processes (one thread each: a task is one district's computation, CPU-bound)."""
    from distributed import Client, LocalCluster

    if args.scheduler:
        return Client(args.scheduler, timeout=30), None
    dashboard = ":0" if _has_bokeh() else None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=dashboard,
                           memory_limit=None, silence_logs=40)
    return Client(cluster), cluster


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


STATUS_ZH = {"computed": "已计算", "current": "已是最新，跳过", "failed": "失败"}  # the summary counts the first words
GENERATE_ZH = {"computed": "已生成", "current": "已存在，跳过", "failed": "失败"}


def _out_dir(args: argparse.Namespace) -> str | None:
    """The reports' folder, made if only it is missing (absolute: every worker writes to the same one); None for
    the kinds that write no file. InputError names what is wrong."""
    from cli.common import InputError

    if args.kind != "reports":
        if args.out:
            msg = f"--out 只用于 reports（{args.kind} 的结果存入数据库）"
            raise InputError(msg)
        return None
    if not args.out:
        msg = "reports 须给出 --out 目录（各工作进程都能写入的共享目录），例如 --out var/reports"
        raise InputError(msg)
    out = Path(args.out).resolve()
    if not out.parent.is_dir():
        msg = f"输出目录的上级目录不存在：{out.parent}"
        raise InputError(msg)
    out.mkdir(exist_ok=True)
    return str(out)


def _cmd_batch(args: argparse.Namespace) -> int:
    from cli.common import InputError
    from services.batch import (
        KIND_ZH,
        BatchError,
        district_task,
        districts_of,
        generate_accounts,
        generate_codes,
        generate_names,
        generate_setup,
    )
    from services.engine import LegacySchemaError, database_url

    if not args.scheduler and args.workers < 1:
        print(f"错误：--workers 须为正整数（收到 {args.workers}）", file=sys.stderr)
        return 2
    try:
        out = _out_dir(args)
    except InputError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    url = database_url(args.database_url)
    named = tuple(c.strip() for c in (args.districts or "").split(",") if c.strip())
    try:
        if args.kind == "generate":  # the bundled districts, registered with their cities before the tasks
            codes = generate_codes(city=args.city, province=args.province, districts=named)
            generate_setup(url, codes)
        else:
            codes = districts_of(url, city=args.city, province=args.province, districts=named)
    except (BatchError, LegacySchemaError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    from distributed import as_completed

    from services.base import district_list

    if args.kind == "generate":
        names, words = generate_names(codes), GENERATE_ZH
    else:
        listing = district_list(url)
        names, words = dict(zip(listing["code"], listing["name"], strict=True)), STATUS_ZH
    started = time.perf_counter()
    try:
        client, cluster = _client(args)
    except OSError as exc:  # no scheduler at that address (distributed raises OSError on a timed-out connect)
        print(f"错误：无法连接 Dask 调度器 {args.scheduler}：{exc}；请确认 dask scheduler 已启动且地址、端口正确",
              file=sys.stderr)
        return 2
    try:
        where = args.scheduler or f"本机 {args.workers} 个工作进程"
        dashboard = "dashboard" in client.scheduler_info().get("services", {})  # bokeh there, and not turned off
        print(f"批量计算{KIND_ZH[args.kind]}：{len(codes)} 个区县，集群 {where}"
              + (f"；报告写入 {out}" if out else "")
              + (f"；Dask 仪表板 {client.dashboard_link}" if dashboard else ""), flush=True)
        # the database's address travels as a parameter; each worker reads its district from the database itself
        made = {}
        if args.kind == "reports":  # made above the services: the report module's task, given to every worker
            from reports.batch import report_unchanged, write_report

            made = {"make": partial(write_report, out=out), "unchanged": partial(report_unchanged, out=out)}
        futures = client.map(district_task, [url] * len(codes), codes, kind=args.kind, pure=False, **made)
        outcomes = []
        for future in as_completed(futures):
            try:
                o = future.result()
            except (ImportError, RuntimeError) as exc:  # the cluster's processes cannot load the project's tasks
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                print(f"错误：集群无法运行本项目的任务（{first}）：调度器与工作进程须能导入本项目，请以 PYTHONPATH={ROOT} "
                      "启动 dask scheduler 与 dask worker，并安装与本机相同的依赖（requirements.txt）", file=sys.stderr)
                return 2
            outcomes.append(o)
            peak = f"，峰值内存 {o['peak_mb']:,.0f} MB" if o["peak_mb"] else ""
            print(f"{_bar(len(outcomes), len(codes))} {names.get(o['district_code'], '')}（{o['district_code']}）："
                  f"{words[o['status']]}，{o['seconds']:.1f} s{peak}"
                  + (f"；{o['reason']}" if o["reason"] else ""), flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if args.kind == "generate":
        generate_accounts(url, codes)
    _summary(outcomes, names, time.perf_counter() - started, words)
    return 1 if any(o["status"] == "failed" for o in outcomes) else 0


def _summary(outcomes: list[dict], names: dict[str, str], seconds: float, words: dict[str, str]) -> None:
    print("\n区县      名称          结果            用时(s)   峰值(MB)  原因")
    for o in sorted(outcomes, key=lambda x: x["district_code"]):
        peak = f"{o['peak_mb']:,.0f}" if o["peak_mb"] else "—"
        print(f"{o['district_code']}    {names.get(o['district_code'], ''):<10}  {words[o['status']]:<10}  "
              f"{o['seconds']:>7.1f}  {peak:>9}  {o['reason']}")
    counts = {s: sum(o["status"] == s for o in outcomes) for s in words}
    print(f"合计 {len(outcomes)} 个区县：" + "，".join(f"{words[s].split('，')[0]} {counts[s]}" for s in words)
          + f"（{seconds:.1f} s）", flush=True)


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    from services.batch import KINDS

    p = sub.add_parser("batch", help="compute every district of a city or province on a Dask cluster (resumable)",
                       description="One task per district on Dask's distributed scheduler: a local cluster of "
                                   "--workers processes, or a running one (--scheduler). A district whose result is "
                                   "stored for its current data versions and parameters is skipped.")
    p.add_argument("kind", choices=KINDS, help="scorecard: every target, district and townships; coverage: the "
                   "15-minute circle the city page opens with; reports: each district's PDF report, into --out; "
                   "generate: the synthetic demo data of bundled districts (Tianjin 12, Hebei 13)")
    area = p.add_mutually_exclusive_group(required=True)
    area.add_argument("--city", help="6-digit city code (120000): every district of it in the database")
    area.add_argument("--province", help="2- or 6-digit province code (13 or 130000): every district of it")
    area.add_argument("--districts", help="comma-separated district codes")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    where.add_argument("--scheduler", default=None, help="a running cluster's scheduler, tcp://HOST:8786")
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    p.add_argument("--out", default=None, help="reports: the folder the PDFs go to (report_CODE.pdf), one every "
                                               "worker can write to")
    p.set_defaults(func=_cmd_batch)
