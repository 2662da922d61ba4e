"""index.html of the evaluation report: a static page (relative links, no script, no server needed).

Top: the pooled metrics, the ROC / PR curves and the error-map legend. Then one row per image, sorted by
its F1 (Dice) in the reported region, worst first: the images a user should look at come first. Each row
has thumbnails linking to the full-size pictures and every per-image metric the evaluator recorded
(whatever keys it has, so new metrics appear without changes here): `<region>_<metric>` keys share one
column per metric, a line per region (inside the FOV, whole image), so the table stays narrow.
"""
import html
import math
import os
from urllib.parse import quote

from paddleseg_lite.utils.imageio import write_bytes_atomic
from paddleseg_lite.utils.visual import ERROR_COLORS

STYLE = """
body { font-family: sans-serif; margin: 16px; color: #222; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 3px 6px; font-size: 13px; vertical-align: middle; }
th { background: #eee; }
td.num { text-align: right; font-family: monospace; }
.images img { display: block; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #888; vertical-align: middle; }
.legend span.item { margin-right: 14px; }
.top { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.curves img { width: 400px; margin-right: 12px; border: 1px solid #ccc; }
"""
REGION_TEXT = {"fov": "inside the field of view", "image": "whole image"}


def format_value(value):
    """A metric as page text: floats with 4 decimals, sequences element-wise, anything else str()."""
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return "nan" if math.isnan(value) else "{:.4f}".format(value)
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        if isinstance(items, list):
            return "[" + ", ".join(format_value(v) for v in items) + "]"
        return format_value(items)
    return str(value)


def sort_key(region):
    """The per-image key the rows are sorted by: F1 (Dice) of the vessel class in `region`."""
    return region + "_dice"


def sorted_rows(rows, key):
    """`rows` ((record, pictures) pairs) by record[key] ascending (worst first), NaN / missing last, stable."""
    def order(row):
        value = row[0].get(key)
        missing = not isinstance(value, (int, float)) or math.isnan(value)
        return (missing, 0.0 if missing else value)
    return sorted(rows, key=order)


def _link(path):
    return html.escape(quote(path))


def _summary(metrics):
    cells = "".join("<tr><th>{}</th><td class=\"num\">{}</td></tr>".format(html.escape(str(k)),
                                                                       html.escape(format_value(v)))
                    for k, v in metrics.items())
    return "<table class=\"summary\">{}</table>".format(cells)


def _legend():
    items = "".join("<span class=\"item\"><span class=\"swatch\" style=\"background: rgb{}\"></span> {}</span>".format(
        color, html.escape(kind)) for kind, color in ERROR_COLORS.items())
    return "<p class=\"legend\">Error map: {}</p>".format(items)


def split_key(key):
    """('fov' | 'image', metric) for a per-image key of a region (`fov_dice`), (None, key) otherwise."""
    for region in REGION_TEXT:
        if key.startswith(region + "_"):
            return region, key[len(region) + 1:]
    return None, key


def _columns(rows):
    """(regions, metric columns) of every record: region keys become one column per metric."""
    regions, columns = [], []
    for record, _ in rows:
        for key in record:
            region, metric = split_key(key)
            if key == "name":
                continue
            if region and region not in regions:
                regions.append(region)
            if metric not in columns:
                columns.append(metric)
    return regions, columns


def _metric_cell(record, regions, metric):
    """One value per region (one line each, in `regions` order), or the record's own `metric` value."""
    if metric in record:
        return html.escape(format_value(record[metric]))
    return "<br>".join(html.escape(format_value(record.get(region + "_" + metric, ""))) for region in regions)


def _image_row(rank, record, pictures, regions, columns):
    name = str(record["name"])
    cells = ["<td class=\"num\">{}</td>".format(rank), "<td title=\"{}\">{}</td>".format(
        html.escape(name), html.escape(os.path.basename(name) or name))]
    for kind, full, thumb in pictures:
        cells.append("<td><a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a></td>".format(
            _link(full), _link(thumb), html.escape(kind)))
    cells.append("<td>{}</td>".format("<br>".join(regions)))
    cells += ["<td class=\"num\">{}</td>".format(_metric_cell(record, regions, c)) for c in columns]
    return "<tr class=\"image-row\">{}</tr>".format("".join(cells))


def _images_table(rows, key):
    regions, columns = _columns(rows)
    kinds = [kind for kind, _, _ in rows[0][1]] if rows else []
    head = ["#", "name"] + kinds + ["region"] + columns
    lines = ["<table class=\"images\"><tr>{}</tr>".format("".join("<th>{}</th>".format(html.escape(h)) for h in head))]
    lines += [_image_row(i, record, pictures, regions, columns)
              for i, (record, pictures) in enumerate(sorted_rows(rows, key), 1)]
    return "\n".join(lines + ["</table>"])


def page_html(metrics, rows, region, curves):
    """The page's text.

    Args:
        metrics (dict): pooled metrics (name -> number or vector).
        rows (list): (per-image record, [(kind, full-size path, thumbnail path), ...]) in dataset order;
            paths relative to the page.
        region (str): 'fov' or 'image', the region the rows are sorted by.
        curves (dict): {"roc": path, "pr": path} (may be empty).
    """
    key = sort_key(region)
    curve_links = "".join("<a href=\"{0}\"><img src=\"{0}\" alt=\"{1} curve\"></a>".format(_link(path), name)
                          for name, path in curves.items())
    parts = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>Evaluation report</title>",
             "<style>{}</style></head><body>".format(STYLE), "<h1>Evaluation report</h1>",
             "<p>{} images. Vessel metrics ({}) are the <code>_fg</code> keys.</p>".format(
                 len(rows), REGION_TEXT[region]),
             "<div class=\"top\">{}<div class=\"curves\">{}</div></div>".format(_summary(metrics), curve_links),
             _legend(),
             "<h2>Images by F1 ({}, <code>{}</code>), worst first</h2>".format(REGION_TEXT[region], key),
             "<p>Click a thumbnail for the full-size picture.</p>",
             _images_table(rows, key), "</body></html>", ""]
    return "\n".join(parts)


def write_page(save_dir, metrics, rows, region, curves):
    """Write save_dir/index.html (see `page_html`) atomically; returns its path."""
    path = os.path.join(save_dir, "index.html")
    write_bytes_atomic(path, page_html(metrics, rows, region, curves).encode("utf-8"))
    return path
