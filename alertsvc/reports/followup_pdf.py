"""The door-knock sheet as a printable PDF: A4, black and white, Japanese font embedded.

The Japanese font comes from ``reports.fonts`` (found at run time, subset embedded).
One section per group (district or supporter), each starting on a new page.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from alertsvc.reports.followup import REASON_LABELS, FollowupSheet, attempt_line
from alertsvc.reports.fonts import FontChoice, find_japanese_font

__all__ = ["write_pdf"]

_FAMILY = "jp"


class _Sheet(FPDF):
    title_line = ""

    def header(self) -> None:
        self.set_font(_FAMILY, size=9)
        self.cell(0, 5, self.title_line, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FAMILY, size=8)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")


def write_pdf(sheet: FollowupSheet, path: Path, *, font: FontChoice | None = None) -> int:
    """Write ``sheet`` as an A4 PDF, one group per section starting on a new page;
    returns the number of pages. Raises ``ConfigError`` when no Japanese font is
    installed, ``OSError`` when the file cannot be written (nothing is left behind)."""
    font_path, index = font or find_japanese_font()
    pdf = _Sheet(orientation="P", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_font(_FAMILY, "", str(font_path), collection_font_number=index)
    root = sheet.root_id or sheet.alert_id
    pdf.set_title(f"door-knock sheet {root}")
    head = "【訓練】" if sheet.exercise else ""
    # the family's original alert and highest level; "+N": alerts under it the sheet covers
    under = f" +{len(sheet.members) - 1}" if len(sheet.members) > 1 else ""
    pdf.title_line = (
        f"{head}戸別訪問リスト / door-knock sheet  {root}{under}  "
        f"警戒レベル{sheet.family_level or sheet.level}  "
        f"作成 {sheet.generated_at}  状態 {sheet.alert_state}  計 {len(sheet.people)} 人"
    )
    header = ["□", "理由 / reason", "氏名 / name", "住所 / address", "階", "支援者 / supporter"]
    widths = [7, 26, 34, 46, 8, 26]
    if sheet.show_needs:
        header.append("配慮 / needs")
        widths.append(20)
    header.append("連絡の記録 / attempts")
    widths.append(190 - sum(widths))
    if not sheet.groups:
        pdf.add_page()
        pdf.set_font(_FAMILY, size=12)
        pdf.cell(0, 10, "訪問が必要な人はいません / nobody to visit.")
    for group in sheet.groups:
        pdf.add_page()
        pdf.set_font(_FAMILY, size=13)
        pdf.cell(0, 8, f"{group.title}  ({len(group.people)} 人)", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FAMILY, size=8.5)
        with pdf.table(
            col_widths=widths,
            width=190,
            text_align="LEFT",
            line_height=4.2,
            headings_style=FontFace(fill_color=(255, 255, 255)),
            first_row_as_headings=True,
            repeat_headings=1,
        ) as table:
            table.row(header)
            for p in group.people:
                urgent = p.reason == "need_help"
                cells = [
                    "□",
                    ("【至急】" if urgent else "") + REASON_LABELS.get(p.reason, p.reason),
                    f"{p.name}\n{p.kana}\n{p.resident_id}",
                    p.address,
                    "" if p.floor is None else str(p.floor),
                    "\n".join(p.supporters),
                ]
                if sheet.show_needs:
                    cells.append("、".join(p.needs or []))
                cells.append("\n".join(attempt_line(a) for a in p.attempts))
                row = table.row()
                for text in cells:
                    row.cell(text)
    pdf.alias_nb_pages()
    tmp = path.with_name(path.name + ".tmp")
    try:
        pdf.output(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return pdf.page_no()
