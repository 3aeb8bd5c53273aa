"""Bar charts as server-side SVG.

Why plain SVG and not a charting library: the pages must work with no
internet at run time (no CDN) and nothing is vendored in this repository,
so Vega, Observable Plot (datasette-plot) and the like would have to be
either fetched by the browser or copied in. A bar chart is a few rectangles:
made here, it costs no JavaScript, renders in any browser (and in the
screenshots of the tests), and the numbers stay readable as text (each bar
has a <title> tooltip and the tables beside the charts hold the exact
values).
"""

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 480, 170
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 56, 34, 22
MAX_LABELS = 6  # labels under the axis: more would overlap


def bar_chart(title, labels, values, caption=""):
    """An SVG bar chart: one bar per value, labelled under the axis (at most
    MAX_LABELS labels, evenly spread; every bar has a tooltip)."""
    values = [v or 0 for v in values]
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - MARGIN_LEFT - 8, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_w / max(1, len(values))
    every = max(1, -(-len(values) // MAX_LABELS))
    parts = [f'<svg class="kafka-chart" role="img" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
             f"<title>{escape(title)}</title>",
             f'<text x="{MARGIN_LEFT}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
             axis_line(MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM, WIDTH - 8, HEIGHT - MARGIN_BOTTOM),
             axis_label(MARGIN_LEFT - 4, MARGIN_TOP + 4, f"{top:,}", "end"),
             axis_label(MARGIN_LEFT - 4, HEIGHT - MARGIN_BOTTOM, "0", "end")]
    for i, (label, value) in enumerate(zip(labels, values)):
        h = plot_h * value / top
        x = MARGIN_LEFT + i * slot + slot * 0.1
        y = HEIGHT - MARGIN_BOTTOM - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
                     f'fill="#3b6ea5"><title>{escape(str(label))}: {value:,}</title></rect>')
        if i % every == 0:
            parts.append(axis_label(x + slot * 0.4, HEIGHT - MARGIN_BOTTOM + 14, str(label), "middle"))
    if caption:
        parts.append(axis_label(MARGIN_LEFT, HEIGHT - 4, caption, "start"))
    parts.append("</svg>")
    return Markup("".join(parts))


def axis_line(x1, y1, x2, y2):
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555"/>'


def axis_label(x, y, text, anchor):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" '
            f'fill="#333">{escape(text)}</text>')
