"""render/index.html: one page per results folder gathering pictures, animations, plots,
tables and files, every link relative to render/ (the folder can be moved or zipped whole and
viewed without a network)."""
from __future__ import annotations

import csv
import html
from pathlib import Path

from ..io import atomic_path, write_json

esc = html.escape
_STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:auto;padding:0 12px}img,video{max-width:100%}"
          "figure{margin:18px 0}figcaption{color:#333;font-size:14px}"
          "table{border-collapse:collapse;font-size:12px;margin:6px 0}td,th{border:1px solid #ccc;padding:2px 6px}"
          ".verdict{background:#f3f3f3;padding:8px;border-left:4px solid #6a2c91}")


def figure(src: str, caption: str) -> str:
    """A picture (``src`` relative to render/) with its caption."""
    return f"<figure><img src='{esc(src)}' alt='{esc(Path(src).stem)}'><figcaption>{esc(caption)}</figcaption></figure>"


def video(src: str, caption: str) -> str:
    return f"<figure><video src='{esc(src)}' controls loop></video><figcaption>{esc(caption)}</figcaption></figure>"


def link(src: str, text: str) -> str:
    return f"<a href='{esc(src)}'>{esc(text)}</a>"


def heading(text: str) -> str:
    return f"<h2>{esc(text)}</h2>"


def paragraph(text: str, cls: str | None = None) -> str:
    return f"<p{f' class={cls!r}' if cls else ''}>{esc(text)}</p>"


def table(rows: list[list], head: bool = True) -> str:
    """An HTML table of ``rows`` (the first the header when ``head``), numbers to 3 digits."""
    out = []
    for i, row in enumerate(rows):
        tag = "th" if head and i == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{esc(_fmt(c))}</{tag}>" for c in row) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def csv_table(path: Path, columns: list[str] | None = None, max_rows: int = 60) -> str:
    """The CSV at ``path`` as a table (chosen ``columns``, the first ``max_rows`` rows)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return ""
    keep = range(len(rows[0])) if columns is None else [rows[0].index(c) for c in columns if c in rows[0]]
    body = [[r[i] for i in keep] for r in rows[: max_rows + 1]]
    more = f"<p>({len(rows) - 1 - max_rows} more rows in {esc(path.name)})</p>" if len(rows) - 1 > max_rows else ""
    return table(body) + more


def rendered_parts(rendered: list[Path], shows: dict[str, str], gif_text: str) -> list[str]:
    """What `sagsim render` wrote, in order: pictures with their captions, videos, the GIF and
    the 3D view as links (all beside the page in render/)."""
    parts = []
    for p in rendered:
        if p.suffix == ".png":
            parts.append(figure(p.name, shows.get(p.name, p.stem)))
        elif p.suffix == ".mp4":
            parts.append(video(p.name, shows.get(p.name, "")))
        elif p.suffix == ".gif":
            parts.append(paragraph("") + link(p.name, gif_text))
        elif p.name == "view3d.html":
            parts.append(paragraph("") + link(p.name, "open the interactive 3D view"))
    return parts


def folder_plots(folder: Path, captions: dict[str, str]) -> list[str]:
    """The plots the run itself wrote (PNG files in the results folder), those that exist."""
    return [figure("../" + name, caption) for name, caption in captions.items() if (folder / name).exists()]


def files_list(folder: Path, names: list[str]) -> str:
    """Links (from render/) to those of ``names`` that exist in the results folder."""
    present = [n for n in names if (folder / n).exists()]
    return heading("Files") + "<ul>" + "".join(f"<li>{link('../' + n, n)}</li>" for n in present) + "</ul>"


def write_page(folder: Path, title: str, parts: list[str]) -> Path:
    """Write folder/render/index.html from the HTML fragments ``parts``."""
    body = "\n".join(p for p in parts if p)
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>{esc(title)}</h1>\n{body}\n</body></html>")
    page = folder / "render" / "index.html"
    with atomic_path(page) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return page


def write_manifest(folder: Path, kind: str, pictures: dict[str, str], ranges: dict[str, list]) -> Path:
    """render/manifest.json: each picture's file name with what it shows, and the colour ranges
    used (so that a reader, or a test, can check a colour bar against the data)."""
    return write_json(folder / "render" / "manifest.json", {"kind": kind, "pictures": pictures, "colour_ranges": ranges})


def _fmt(cell) -> str:
    if isinstance(cell, bool):
        return str(cell)
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return str(cell)
    return f"{v:.3g}" if v != int(v) or abs(v) >= 1e6 else str(int(v))
