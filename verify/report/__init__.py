"""Renderers: the library's results as text, JSON and timelines (the CLI only calls these)."""

from verify.report.json_report import render_json, report_dict
from verify.report.location import locate
from verify.report.text import render_report, render_reports
from verify.report.timeline import render_timeline

__all__ = ["locate", "render_json", "render_report", "render_reports", "render_timeline", "report_dict"]
