"""The report's plots: matplotlib figures rendered to SVG text for inlining in the page.

Each function takes the data layer's dataclasses and returns a `Plot`. Decisions that matter to
a reader of the page:

* ``svg.fonttype = 'none'``: text stays text, so the browser draws Chinese labels with its own
  CJK fonts, the page can be searched and copied, and no glyph outlines bloat the file. The
  font list names common CJK fonts first, so matplotlib measures labels with one when the
  machine has it (only the layout depends on it; the browser picks its own).
* Figures are made with `matplotlib.figure.Figure` and the SVG canvas, never `pyplot`: no global
  figure registry to leak, no GUI backend to pick, safe from several threads.
* Several SVGs share one HTML document, so matplotlib's ids (``figure_1``, clip paths, markers)
  would collide; `_inline` prefixes every id and every reference with the plot's name, and
  ``svg.hashsalt`` is the plot's name so the same data renders the same bytes.
* Data is drawn by artists whose id starts ``<plot>-data-``: the browser test checks that such
  elements exist and have size, not just that an ``<svg>`` is there. A plot with nothing to show
  says so in words (`_empty`) and has no data artists.
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from exchange.report.data import (
    LICENCE_STATES,
    OUTCOMES,
    BundleSavings,
    ClientPurpose,
    DatasetFreshness,
    DepartmentQuality,
    DepartmentSupervision,
    LicenceTypeCounts,
)

#: Sans-serif fonts with Chinese glyphs first; DejaVu (matplotlib's own) last.
FONTS = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "DejaVu Sans",
]
WIDTH = 8.0  # inches; the page scales the SVG to its column
#: Colour-blind-safe qualitative palette (Okabe & Ito), then greys.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#999999",
    "#BBBBBB",
]
OK, BAD, NEVER = "#009E73", "#D55E00", "#999999"
STATE_COLOURS = {
    "active": "#009E73",
    "expired": "#E69F00",
    "suspended": "#CC79A7",
    "revoked": "#D55E00",
    "superseded": "#999999",
}
OUTCOME_COLOURS = {
    "held_licence": "#0072B2",
    "held_data": "#56B4E9",
    "commitment": "#E69F00",
    "must_submit": "#BBBBBB",
}
LABELS = {
    "active": "有效 active",
    "expired": "已过期 expired",
    "suspended": "已中止 suspended",
    "revoked": "已撤销 revoked",
    "superseded": "已更新 superseded",
    "held_licence": "证照已有 licence held",
    "held_data": "数据已有 data held",
    "commitment": "告知承诺 commitment",
    "must_submit": "仍需提交 must submit",
    "lookup": "查询 lookup",
    "precheck": "预检 precheck",
    "submission": "提交报告 submission",
    "refusal": "拒绝 refusal",
}
MAX_PURPOSES = 6  # purposes shown apart in the lookups plot; the rest are "other"
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


@dataclass(frozen=True)
class Plot:
    name: str  # also the prefix of every id inside the SVG
    svg: str  # an ``<svg>`` element, ready to inline
    drawn: int  # data artists drawn; 0: the plot says there is no data


def label(code: str) -> str:
    return LABELS.get(code, code)


# -- the plots --------------------------------------------------------------------------------


def quality_plot(quality: Sequence[DepartmentQuality]) -> Plot:
    """Per department, quarantine entries per reason as a share of the rows read (stacked), and
    the share of rows set aside (a diamond: a row with two bad fields counts once there)."""
    rows = [q for q in quality if q.rows_read]
    if not rows:
        return _empty("quality", "尚无已接收的批次 No accepted batch yet")
    reasons = [reason for reason, _ in _totals(q.reasons for q in rows).most_common()]
    with _figure("quality", len(rows)) as (figure, ax):
        drawn = _Drawn("quality")
        labels = [q.department.short for q in rows]
        left = [0.0] * len(rows)
        for index, reason in enumerate(reasons):
            widths = [100 * q.reasons.get(reason, 0) / q.rows_read for q in rows]
            bars = ax.barh(labels, widths, left=left, color=_colour(index), label=reason)
            drawn.add(*bars)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        (rate,) = ax.plot(
            [100 * q.rate for q in rows],
            labels,
            "D",
            color="black",
            markersize=5,
            label="隔离行 rows set aside",
        )
        drawn.add(rate)
        ax.set_xlabel("占读取行数 % of rows read")
        ax.invert_yaxis()
        _legend(ax, len(reasons) + 1)
        return drawn.finish(figure)


def freshness_plot(freshness: Sequence[DatasetFreshness]) -> Plot:
    """Per dataset, the age of its newest version as a share of its update period: past 100%
    it is overdue. A dataset never delivered is a grey bar to 100%."""
    if not freshness:
        return _empty("freshness", "目录中没有数据集 No dataset in the catalogue")
    cap = 200.0
    with _figure("freshness", len(freshness)) as (figure, ax):
        drawn = _Drawn("freshness")
        labels = [f"{row.dataset.name} {row.dataset.code}" for row in freshness]
        values, colours = [], []
        for row in freshness:
            judged = row.freshness
            if judged.age is None:
                values.append(100.0)
                colours.append(NEVER)
            else:
                share = 100 * judged.age / judged.allowed
                values.append(min(share, cap))
                colours.append(OK if judged.fresh else BAD)
        drawn.add(*ax.barh(labels, values, color=colours, height=0.6))
        drawn.add(ax.scatter(values, labels, color=colours, s=14, zorder=3))
        ax.axvline(100, color="black", linewidth=0.8, linestyle="--")
        ax.text(100, -0.9, " 到期 due", fontsize=8, va="bottom")
        ax.set_xlim(0, cap * 1.05)
        ax.set_xlabel("距最新版本的时间 / 更新周期 age of newest version, % of update period")
        ax.invert_yaxis()
        handles = [
            _patch(OK, "按时 fresh"),
            _patch(BAD, "逾期 overdue"),
            _patch(NEVER, "从未交付 never delivered"),
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
        return drawn.finish(figure)


def bundles_plot(bundles: Sequence[BundleSavings]) -> Plot:
    """Per bundle, the share of materials by precheck outcome; the first three are no longer
    handed over."""
    rows = [b for b in bundles if b.materials]
    if not rows:
        return _empty("bundles", "尚无预检记录 No precheck recorded yet")
    with _figure("bundles", len(rows)) as (figure, ax):
        drawn = _Drawn("bundles")
        labels = [b.plan.short for b in rows]
        left = [0.0] * len(rows)
        for outcome in OUTCOMES:
            widths = [100 * b.outcomes.get(outcome, 0) / b.materials for b in rows]
            bars = ax.barh(
                labels, widths, left=left, color=OUTCOME_COLOURS[outcome], label=label(outcome)
            )
            drawn.add(*bars)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for y, bundle in enumerate(rows):
            ax.text(101, y, f"{bundle.share:.0%}", va="center", fontsize=9)
        ax.set_xlim(0, 112)
        ax.set_xlabel("材料占比 % of materials (right: no longer handed over 免提交)")
        ax.invert_yaxis()
        _legend(ax, len(OUTCOMES))
        return drawn.finish(figure)


def licences_plot(licences: Sequence[LicenceTypeCounts]) -> Plot:
    """Licence versions per type, stacked by status."""
    if not licences:
        return _empty("licences", "尚未签发证照 No licence issued yet")
    with _figure("licences", len(licences)) as (figure, ax):
        drawn = _Drawn("licences")
        labels = [c.licence_type.label for c in licences]
        left = [0] * len(licences)
        for state in LICENCE_STATES:
            widths = [c.by_status.get(state, 0) for c in licences]
            if not any(widths):
                continue
            bars = ax.barh(
                labels, widths, left=left, color=STATE_COLOURS[state], label=label(state)
            )
            drawn.add(*bars)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_xlabel("证照版本数 licence versions")
        ax.invert_yaxis()
        _legend(ax, len(LICENCE_STATES))
        return drawn.finish(figure)


def lookups_plot(lookups: Sequence[ClientPurpose]) -> Plot:
    """Access entries per client, stacked by stated purpose (the most frequent purposes apart,
    the rest together)."""
    if not lookups:
        return _empty("lookups", "尚无查询记录 No lookup recorded yet")
    purposes = Counter[str]()
    per_client: dict[str, Counter[str]] = {}
    for row in lookups:
        purposes[row.purpose] += row.total
        per_client.setdefault(row.actor, Counter())[row.purpose] += row.total
    shown = [purpose for purpose, _ in purposes.most_common(MAX_PURPOSES)]
    other = "其他 other"
    clients = sorted(per_client, key=lambda actor: (-per_client[actor].total(), actor))
    with _figure("lookups", len(clients)) as (figure, ax):
        drawn = _Drawn("lookups")
        left = [0] * len(clients)
        series = [*shown, other] if len(purposes) > len(shown) else shown
        for index, purpose in enumerate(series):
            if purpose == other:
                widths = [
                    sum(n for p, n in per_client[c].items() if p not in shown) for c in clients
                ]
            else:
                widths = [per_client[c].get(purpose, 0) for c in clients]
            bars = ax.barh(
                clients, widths, left=left, color=_colour(index), label=_short(purpose, 36)
            )
            drawn.add(*bars)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_xlabel("访问记录数 access entries (lookups, prechecks, submissions, refusals)")
        ax.invert_yaxis()
        _legend(ax, len(series))
        return drawn.finish(figure)


def supervision_plot(supervision: Sequence[DepartmentSupervision]) -> Plot:
    """Per department, repeated-submission flags and red cards, side by side."""
    rows = [s for s in supervision if s.reports or s.red_cards]
    if not rows:
        return _empty("supervision", "尚无提交报告或红牌 No submission report or red card yet")
    with _figure("supervision", len(rows)) as (figure, ax):
        drawn = _Drawn("supervision")
        positions = list(range(len(rows)))
        height = 0.38
        flagged = ax.barh(
            [p - height / 2 for p in positions],
            [s.flagged for s in rows],
            height=height,
            color="#E69F00",
            label="重复提交 repeated-submission flags",
        )
        red = ax.barh(
            [p + height / 2 for p in positions],
            [s.red_cards for s in rows],
            height=height,
            color="#D55E00",
            label="红牌 red cards",
        )
        drawn.add(*flagged, *red)
        ax.set_yticks(positions, [s.department.short for s in rows])
        ax.set_xlabel("次数 count")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.invert_yaxis()
        _legend(ax, 2)
        return drawn.finish(figure)


# -- helpers ----------------------------------------------------------------------------------


@contextmanager
def _figure(name: str, count: int) -> Iterator[tuple[Figure, Axes]]:
    """A figure for ``count`` horizontal bars, inside this report's matplotlib settings (render
    it inside the block: the SVG settings are read when it is saved)."""
    with rc_context(_settings(name)), warnings.catch_warnings():
        # without a CJK font installed, matplotlib measures with DejaVu and warns per glyph
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        figure = Figure(figsize=(WIDTH, 1.6 + 0.32 * max(count, 1)), layout="constrained")
        yield figure, figure.add_subplot()


def _settings(name: str) -> dict[str, object]:
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": name,
        "font.family": "sans-serif",
        "font.sans-serif": FONTS,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": False,
    }


class _Drawn:
    """Tags a plot's data artists with ids (``data-<n>``) and counts them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def add(self, *artists: Artist) -> None:
        for artist in artists:
            artist.set_gid(f"data-{self.count}")
            self.count += 1

    def finish(self, figure: Figure) -> Plot:
        return Plot(self.name, _inline(_render(figure), self.name), self.count)


def _empty(name: str, message: str) -> Plot:
    """A plot that says in words that it has nothing to show."""
    with _figure(name, 0) as (figure, ax):
        ax.set_axis_off()
        ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555")
        return Plot(name, _inline(_render(figure), name), 0)


def _render(figure: Figure) -> str:
    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def _inline(svg: str, name: str) -> str:
    """The ``<svg>`` element alone (no XML prolog, DOCTYPE or comment), every id and reference
    prefixed with ``name`` so several plots can share one document."""
    svg = svg[svg.index("<svg") :]
    svg = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg class="plot" data-plot="{name}" role="img" ', 1)


def _totals(counters: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counts in counters:
        total.update(counts)
    return total


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _legend(ax: Axes, entries: int) -> None:
    """The legend under the plot: constrained layout keeps room for it ("outside")."""
    ax.figure.legend(
        *ax.get_legend_handles_labels(),
        loc="outside lower center",
        ncols=min(entries, 3),
        fontsize=8,
        frameon=False,
    )


def _patch(colour: str, text: str) -> Artist:
    return Patch(color=colour, label=text)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "Plot",
    "bundles_plot",
    "freshness_plot",
    "licences_plot",
    "lookups_plot",
    "quality_plot",
    "supervision_plot",
]
