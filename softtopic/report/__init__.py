"""Showing a fitted run: the offline HTML report (html.py) and static images (png.py), drawn
from one set of plot data (figures.py)."""
from .html import build_report, report_figures

__all__ = ["build_report", "report_figures"]
