"""Rendering what reports/ computes: HTML (html.py), PDF (pdf.py, ReportLab), the chart both share
(chart.py: one ReportLab Drawing, drawn into the PDF and as SVG into the HTML), the font with
Chinese glyphs (fonts.py) and PDF pages as PNG pictures (png.py)."""
