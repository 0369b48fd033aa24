"""The walking network of a stored district: its pieces, the entry rules, the points they moved."""

from __future__ import annotations

import argparse

from cli.common import WALK_KINDS, _district_option, _stored_ref


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


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    net = sub.add_parser("network", help="the stored district's walking network: pieces, entry rules, and the "
                         "points whose entry point is not their nearest edge")
    net_sub = net.add_subparsers(dest="action", required=True)
    chk = net_sub.add_parser("check", help="components, fragments, the edges each entry rule avoids, the points moved "
                             "and by how much ([network.entry] of the config)")
    _district_option(chk)
    chk.add_argument("--list", type=int, default=20, help="list this many moved points per set, largest move first")
    chk.set_defaults(func=_cmd_network)
