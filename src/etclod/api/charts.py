"""HTTP layer: the landing page's figures, as server-rendered bar charts (HTML and CSS: no
script, no CDN; every label whole, wrapping on narrow screens; the bars scale with the page)."""

from __future__ import annotations

from html import escape
from typing import Any

from etclod import i18n
from etclod.describe import pick_label
from etclod.i18n import N_
from etclod.namespaces import RDFS, sparql_prefixes
from etclod.places import place_label

QUERIES = {name: sparql_prefixes() + query for name, query in {
    "programmes": """SELECT ?k (COUNT(DISTINCT ?p) AS ?n) (SUM(?eu) AS ?v) (COUNT(DISTINCT ?counted) AS ?c) WHERE {
        ?p etc:programme ?k
        OPTIONAL { ?p etc:euFunding ?eu BIND(?p AS ?counted) } }
        GROUP BY ?k ORDER BY DESC(?n) ?k LIMIT 12""",
    "countries": """SELECT ?k (COUNT(?m) AS ?n) WHERE { ?m org:member ?o .
        ?o etc:country ?k } GROUP BY ?k ORDER BY DESC(?n) ?k LIMIT 12""",
    "themes": """SELECT ?k (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a etc:Project ;
        etc:theme ?k } GROUP BY ?k ORDER BY DESC(?n) ?k LIMIT 12""",
    "regions": """SELECT ?k (COUNT(?m) AS ?n) WHERE { ?m org:member ?o .
        ?o etc:nutsRegion ?k } GROUP BY ?k ORDER BY DESC(?n) ?k LIMIT 12""",
}.items()}
TITLES = {
    "programmes": N_("Projects per programme"),
    "countries": N_("Partnerships per country of the partner"),
    "themes": N_("Projects per theme"),
    "regions": N_("Partnerships per NUTS region of the partner"),
}
COUNTED = {"programmes": (N_("%(n)s project"), N_("%(n)s projects")),
           "themes": (N_("%(n)s project"), N_("%(n)s projects")),
           "countries": (N_("%(n)s partnership"), N_("%(n)s partnerships")),
           "regions": (N_("%(n)s partnership"), N_("%(n)s partnerships"))}


def figures(store: Any) -> dict[str, list[dict[str, Any]]]:
    """The numbers behind the charts (computed once per release by the caller)."""
    # aggregates over the whole release: the caches they fill are not kept
    figures: dict[str, list[dict[str, Any]]] = store.read_aside(_figures)
    return figures


def _figures(store: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, query in QUERIES.items():
        rows = store.select(query)
        keys = {str(r["k"]) for r in rows}
        labels: dict[str, list[Any]] = {}
        if keys and name in ("programmes", "themes"):
            values = " ".join(f"<{k}>" for k in sorted(keys))
            for row in store.select(f"SELECT ?k ?l WHERE {{ VALUES ?k {{ {values} }} "
                                    f"?k <{RDFS.label}> ?l }}"):
                labels.setdefault(str(row["k"]), []).append(row["l"])
        out[name] = [{"key": str(r["k"]), "count": int(r["n"]),
                      "value": str(r["v"]) if r.get("v") is not None and int(r.get("c") or 0) else None,
                      "with_figures": int(r["c"]) if r.get("c") is not None else 0,
                      "labels": labels.get(str(r["k"]), [])} for r in rows]
    return out


def bar_chart(name: str, rows: list[dict[str, Any]], lang: str, base: str) -> str:
    """A horizontal bar chart: every bar with its whole label on its own line, its count and,
    for programmes, the EU funding of the projects that have figures (saying how many)."""
    title = i18n.tr(lang, TITLES[name])
    if not rows:
        return f'<figure class="chart"><figcaption>{escape(title)}</figcaption><p>—</p></figure>'
    top = max(r["count"] for r in rows) or 1
    one, many = COUNTED[name]
    items = []
    for row in rows:
        key = row["key"]
        label = pick_label(row["labels"], lang) or place_label(key, lang) or key.rsplit("/", 1)[-1]
        number = i18n.ntr(lang, one, many, row["count"])
        if row.get("value") is not None:
            covered = i18n.ntr(lang, "EU funding of %(n)s project with figures",
                               "EU funding of %(n)s projects with figures", row["with_figures"])
            number += f" · {covered}: {i18n.format_money(row['value'], lang)}"
        href = "/" + key[len(base):] if key.startswith(base) else None
        text = f'<a href="{escape(href)}">{escape(label)}</a>' if href else escape(label)
        width = max(1.0, 100.0 * row["count"] / top)
        items.append(f'<li><span class="bar-label">{text}</span>'
                     f'<span class="bar-row"><span class="track"><span class="bar" style="width:{width:.1f}%"></span></span>'
                     f'<span class="bar-value">{escape(number)}</span></span></li>')
    return (f'<figure class="chart" id="chart-{name}"><figcaption>{escape(title)}</figcaption>'
            f'<ul class="bars">{"".join(items)}</ul></figure>')
