"""HTTP layer: the landing page's figures, as server-rendered SVG bar charts (no script, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from etclod.describe import pick_label

QUERIES = {
    "programmes": """SELECT ?k (COUNT(DISTINCT ?p) AS ?n) (SUM(?eu) AS ?v) WHERE {
        ?p <https://w3id.org/etclod/def#programme> ?k OPTIONAL { ?p <https://w3id.org/etclod/def#euFunding> ?eu } }
        GROUP BY ?k ORDER BY DESC(?n) LIMIT 12""",
    "countries": """SELECT ?k (COUNT(?m) AS ?n) WHERE { ?m <http://www.w3.org/ns/org#member> ?o .
        ?o <https://w3id.org/etclod/def#country> ?k } GROUP BY ?k ORDER BY DESC(?n) LIMIT 12""",
    "themes": """SELECT ?k (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a <https://w3id.org/etclod/def#Project> ;
        <https://w3id.org/etclod/def#theme> ?k } GROUP BY ?k ORDER BY DESC(?n) LIMIT 12""",
    "regions": """SELECT ?k (COUNT(?m) AS ?n) WHERE { ?m <http://www.w3.org/ns/org#member> ?o .
        ?o <https://w3id.org/etclod/def#nutsRegion> ?k } GROUP BY ?k ORDER BY DESC(?n) LIMIT 12""",
}
TITLES = {
    "programmes": ("Projects per programme (EU funding in EUR)", "Projekti pa programmām (ES finansējums EUR)"),
    "countries": ("Partners per country", "Partneri pa valstīm"),
    "themes": ("Projects per theme", "Projekti pa tēmām"),
    "regions": ("Partners per NUTS region", "Partneri pa NUTS reģioniem"),
}


def figures(store: Any) -> dict[str, list[dict[str, Any]]]:
    """The numbers behind the charts (computed once per release by the caller)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, query in QUERIES.items():
        rows = store.select(query)
        keys = {str(r["k"]) for r in rows}
        labels: dict[str, list[Any]] = {}
        if keys and name in ("programmes", "themes"):
            values = " ".join(f"<{k}>" for k in sorted(keys))
            for row in store.select(f"SELECT ?k ?l WHERE {{ VALUES ?k {{ {values} }} "
                                    f"?k <http://www.w3.org/2000/01/rdf-schema#label> ?l }}"):
                labels.setdefault(str(row["k"]), []).append(row["l"])
        out[name] = [{"key": str(r["k"]), "count": int(r["n"]), "value": float(r["v"]) if r.get("v") is not None else None,
                      "labels": labels.get(str(r["k"]), [])} for r in rows]
    return out


def bar_chart(name: str, rows: list[dict[str, Any]], lang: str, base: str) -> str:
    """A horizontal bar chart with a text label and number on every bar, and a title for
    screen readers."""
    title = TITLES[name][0 if lang == "en" else 1]
    if not rows:
        return f"<p>{escape(title)}: —</p>"
    height, width, label_w = 22 * len(rows) + 10, 640, 300
    top = max(r["count"] for r in rows) or 1
    parts = [f'<svg class="chart" role="img" aria-labelledby="chart-{name}" viewBox="0 0 {width} {height}" '
             f'width="{width}" style="max-width:100%;height:auto" xmlns="http://www.w3.org/2000/svg"><title id="chart-{name}">{escape(title)}</title>']
    for i, row in enumerate(rows):
        key = row["key"]
        label = pick_label(row["labels"], lang) or key.rsplit("/", 1)[-1]
        label = label if len(label) <= 42 else label[:40] + "…"
        y = 5 + 22 * i
        bar = max(2, int((width - label_w - 120) * row["count"] / top))
        number = f"{row['count']}" + (f" · {row['value']:,.0f} €" if row.get("value") else "")
        href = "/" + key[len(base):] if key.startswith(base) else None
        text = f'<text x="0" y="{y + 14}">{escape(label)}</text>'
        parts.append(f'<a href="{escape(href)}">{text}</a>' if href else text)
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar}" height="14" rx="2"></rect>')
        parts.append(f'<text x="{label_w + bar + 6}" y="{y + 14}">{escape(number)}</text>')
    parts.append("</svg>")
    return f'<figure><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>'
