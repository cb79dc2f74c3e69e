"""A report as an email: HTML with inline CSS (email clients drop style sheets) and the charts as inline images
(cid:), a plain-text version, and the period's figures as a CSV attachment."""
from __future__ import annotations

import base64
import csv
import html
import io
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

from services.notify.reports.content import Kpi, ReportContent

FONT = "font-family: Arial, Helvetica, sans-serif; color: #1f2937"
CELL = "padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: left"
NUMBER = "padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: right"


def format_value(kpi: Kpi) -> str:
    if kpi.value is None:
        return "–"
    if kpi.unit == "%":
        return f"{kpi.value:,.1f}%"
    if kpi.unit == "money":
        return f"{kpi.value:,.2f}"
    return f"{kpi.value:,.0f}" if float(kpi.value).is_integer() else f"{kpi.value:,.2f}"


def format_change(kpi: Kpi) -> str:
    change = kpi.change
    if change is None:
        return "" if kpi.previous is None else "no change to compare"
    return f"{'▲' if change >= 0 else '▼'} {abs(change):.1%} vs previous period"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _kpi_cells(content: ReportContent) -> str:
    cells = []
    for kpi in content.kpis:
        change = format_change(kpi)
        colour = "#047857" if (kpi.change or 0) >= 0 else "#b91c1c"
        cells.append(f'<td style="padding: 10px; border: 1px solid #e5e7eb; vertical-align: top" '
                     f'data-kpi="{_e(kpi.label)}"><div style="font-size: 12px; color: #6b7280">{_e(kpi.label)}</div>'
                     f'<div style="font-size: 22px; font-weight: bold">{_e(format_value(kpi))}</div>'
                     f'<div style="font-size: 12px; color: {colour}">{_e(change)}</div></td>')
    rows = [cells[i:i + 4] for i in range(0, len(cells), 4)]
    return ('<table role="presentation" style="border-collapse: collapse; width: 100%; margin: 12px 0">'
            + "".join(f"<tr>{''.join(r)}</tr>" for r in rows) + "</table>")


def _table(table) -> str:
    if not table.rows:
        return f'<h3 style="margin: 18px 0 6px">{_e(table.title)}</h3><p style="color: #6b7280">{_e(table.empty)}</p>'
    head = "".join(f'<th style="{CELL}; background: #f3f4f6">{_e(h)}</th>' for h in table.headers)
    body = "".join("<tr>" + "".join(
        f'<td style="{NUMBER if isinstance(v, (int, float)) else CELL}">'
        f'{_e(f"{v:,}" if isinstance(v, (int, float)) else v)}</td>' for v in row) + "</tr>" for row in table.rows)
    return (f'<h3 style="margin: 18px 0 6px">{_e(table.title)}</h3><table style="border-collapse: collapse; '
            f'width: 100%; font-size: 13px"><tr>{head}</tr>{body}</table>')


def render_html(content: ReportContent, base_url: str) -> str:
    notes = "".join(f'<p style="font-size: 15px" class="report-note">{_e(n)}</p>' for n in content.notes)
    charts = "".join(f'<p><img src="cid:{_e(c.cid)}" alt="{_e(c.title)}" width="{c.width}" height="{c.height}" '
                     f'style="display: block; max-width: 100%; height: auto; border: 0"></p>' for c in content.charts)
    tables = "".join(_table(t) for t in content.tables)
    link = _e(base_url + content.link)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{_e(content.subject)}</title></head>'
            f'<body style="margin: 0; padding: 0; background: #ffffff">'
            f'<div style="{FONT}; max-width: 680px; margin: 0 auto; padding: 16px">'
            f'<h2 style="margin: 0 0 4px">{_e(content.title)}</h2>'
            f'<p style="margin: 0; color: #6b7280">{_e(content.period_label)} · compared with '
            f'{content.previous_start:%d %b} – {content.previous_end:%d %b %Y}</p>'
            f'{notes}{_kpi_cells(content)}{charts}{tables}'
            f'<p style="margin-top: 24px"><a href="{link}" style="color: #4f46e5">Open in Podcast Analytics</a></p>'
            f'<p style="font-size: 12px; color: #6b7280">The figures for each day are attached as a CSV file. '
            f'Change when this report arrives under Settings → Reports.</p></div></body></html>')


def render_text(content: ReportContent, base_url: str) -> str:
    lines = [content.title, content.period_label, ""] + content.notes + [""]
    for kpi in content.kpis:
        change = format_change(kpi)
        lines.append(f"{kpi.label}: {format_value(kpi)}" + (f" ({change})" if change else ""))
    for table in content.tables:
        lines += ["", table.title]
        lines += [" · ".join(f"{v:,}" if isinstance(v, (int, float)) else str(v) for v in row) for row in table.rows] \
            or [table.empty]
    lines += ["", f"Open: {base_url}{content.link}"]
    return "\n".join(lines) + "\n"


def render_csv(content: ReportContent) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(content.csv_header)
    writer.writerows(content.csv_rows)
    return out.getvalue()


def csv_filename(content: ReportContent) -> str:
    return f"report_{content.period_start.isoformat()}_{content.period_end.isoformat()}.csv"


def preview_html(content: ReportContent, images: dict[str, bytes], base_url: str) -> str:
    """The email's HTML with each cid: image inlined as a data: URI, so a browser shows what the mail client will."""
    page = render_html(content, base_url)
    for cid, data in images.items():
        page = page.replace(f'src="cid:{_e(cid)}"',
                            f'src="data:image/png;base64,{base64.b64encode(data).decode()}"')
    return page


def build_message(content: ReportContent, images: dict[str, bytes], mail_from: str, to: str, base_url: str,
                  message_id: str) -> MimeMessage:
    message = MimeMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = content.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id  # stable per run: a resend is recognisable
    message.set_content(render_text(content, base_url))
    message.add_alternative(render_html(content, base_url), subtype="html")
    html_part = message.get_payload()[1]
    for chart in content.charts:
        html_part.add_related(images[chart.cid], maintype="image", subtype="png", cid=f"<{chart.cid}>",
                              filename=f"{chart.cid}.png", disposition="inline")
    message.add_attachment(render_csv(content).encode(), maintype="text", subtype="csv",
                           filename=csv_filename(content))
    return message
