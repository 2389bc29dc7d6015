"""Example layer: ready SPARQL queries a researcher would ask of ETC data (the query page)."""

from __future__ import annotations

from etclod.i18n import N_
from etclod.namespaces import PREFIXES as PREFIX_OF

PREFIXES = "".join(f"PREFIX {name}: <{PREFIX_OF[name]}>\n" for name in ("etc", "org", "dct", "rdfs", "schema"))

EXAMPLES: list[tuple[str, str]] = [
    (N_("EU funding per programme, over the projects with figures"), """SELECT ?programme ?title (COUNT(?project) AS ?projects) (SUM(?eu) AS ?eu_funding) WHERE {
  ?project etc:programme ?programme ; etc:euFunding ?eu .
  ?programme dct:title ?title FILTER(LANG(?title) = "en")
} GROUP BY ?programme ?title ORDER BY DESC(?eu_funding)"""),
    (N_("Lead partners and partners by country"), """SELECT ?country ?role (COUNT(DISTINCT ?org) AS ?organisations) WHERE {
  ?m org:role ?role ; org:member ?org .
  ?org etc:country ?country
} GROUP BY ?country ?role ORDER BY ?country ?role"""),
    (N_("The 2018 seminar's projects, their programmes and partners"), """SELECT ?acronym ?programme (COUNT(DISTINCT ?org) AS ?partners) WHERE {
  ?seminar a <http://data.europa.eu/m8g/PublicEvent> ; etc:presentedProject ?project .
  ?project etc:acronym ?acronym ; etc:programme/dct:title ?programme FILTER(LANG(?programme) = "en")
  OPTIONAL { ?m org:organization ?project ; org:member ?org }
} GROUP BY ?acronym ?programme ORDER BY ?acronym"""),
    (N_("Organisations in Kurzeme"), """SELECT ?org ?name WHERE {
  ?org etc:nutsRegion <http://data.europa.eu/nuts/code/LV003> ; rdfs:label ?name FILTER(LANG(?name) = "lv")
} ORDER BY ?name"""),
    (N_("Projects per theme"), """SELECT ?theme ?label (COUNT(?project) AS ?projects) WHERE {
  ?project a etc:Project ; etc:theme ?theme .
  ?theme rdfs:label ?label FILTER(LANG(?label) = "en")
} GROUP BY ?theme ?label ORDER BY DESC(?projects)"""),
    (N_("Partners per country"), """SELECT ?country (COUNT(?m) AS ?partnerships) WHERE {
  ?m a etc:Partnership ; org:member ?org .
  ?org etc:country ?country
} GROUP BY ?country ORDER BY DESC(?partnerships)"""),
    (N_("Projects with known dates and budgets"), """SELECT ?acronym ?start ?end ?total ?eu WHERE {
  ?project a etc:Project ; etc:acronym ?acronym ; schema:startDate ?start ; schema:endDate ?end ;
           etc:totalBudget ?total ; etc:euFunding ?eu .
} ORDER BY ?acronym LIMIT 200"""),
    (N_("People and their posts"), """SELECT ?name ?post ?organisation WHERE {
  ?person <http://xmlns.com/foaf/0.1/name> ?name ; org:holds ?p .
  ?p rdfs:label ?post FILTER(LANG(?post) = "en")
  ?p org:postIn/rdfs:label ?organisation FILTER(LANG(?organisation) = "en")
}"""),
    (N_("Organisations and the organisations they belong to"), """SELECT ?unit ?parent WHERE {
  ?u org:subOrganizationOf ?p .
  ?u rdfs:label ?unit FILTER(LANG(?unit) = "en")
  ?p rdfs:label ?parent FILTER(LANG(?parent) = "en")
}"""),
    (N_("Links to other datasets"), """SELECT ?resource ?relation ?target ?linkset WHERE {
  GRAPH ?linkset { ?resource ?relation ?target }
  FILTER(CONTAINS(STR(?linkset), "/graph/links/"))
}"""),
]


def examples() -> list[dict[str, str]]:
    return [{"title": title, "query": PREFIXES + body} for title, body in EXAMPLES]
