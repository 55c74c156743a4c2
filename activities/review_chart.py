"""The review pack's chart: one PNG a CSM can show in the meeting. Health now and before,
usage against each plan limit, SLA compliance, CSAT, each as a percentage bar against the
same 0-100 axis (NPS as its 0-10 answer x 10). Agg canvas, no pyplot: no display, no
global figure state; deterministic for the same figures."""

from __future__ import annotations

import io

from domain.review_pack import PackFigures


def chart_rows(f: PackFigures) -> list[tuple[str, float]]:
    """(label, value 0-100) for each figure the pack knows, in reading order."""
    rows: list[tuple[str, float | None]] = [
        ("Health score", f.health_score),
        ("Health score before", f.health_previous),
        *((f"Usage: {name}", pct) for name, pct in f.usage.items()),
        ("Features adopted", f.features_adopted_percent),
        ("First response in SLA", f.sla_response_met_percent),
        ("Resolved in SLA", f.sla_resolution_met_percent),
        ("CSAT satisfied", f.csat_percent),
        ("Latest NPS answer (x10)", None if f.nps_last_score is None else f.nps_last_score * 10),
    ]
    return [(label, value) for label, value in rows if value is not None]


def review_chart_png(f: PackFigures, title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = chart_rows(f)
    fig = Figure(figsize=(8, 0.5 * max(len(rows), 1) + 1.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = [r[0] for r in rows][::-1]
    values = [min(r[1], 100.0) for r in rows][::-1]
    bars = ax.barh(labels, values, color="#3b6ea5")
    for bar, (_, value) in zip(bars, rows[::-1], strict=True):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{value:g}", va="center")
    ax.set_xlim(0, 110)
    ax.set_xlabel("percent (health score 0-100)")
    ax.set_title(title)
    if not rows:
        ax.text(50, 0, "no figures known yet", ha="center")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
