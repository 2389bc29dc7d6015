"""Example layer: ready SPARQL queries a researcher would ask of ETC data (the query page)."""

from __future__ import annotations

PREFIXES = """PREFIX etc: <https://w3id.org/etclod/def#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
"""

EXAMPLES: list[tuple[str, str]] = [
    ("EU funding per programme", """SELECT ?programme ?title (COUNT(?project) AS ?projects) (SUM(COALESCE(?eu, 0)) AS ?eu_funding) WHERE {
  ?project etc:programme ?programme .
  OPTIONAL { ?project etc:euFunding ?eu }
  ?programme dct:title ?title FILTER(LANG(?title) = "en")
} GROUP BY ?programme ?title ORDER BY DESC(?eu_funding)"""),
    ("Lead partners and partners by country", """SELECT ?country ?role (COUNT(DISTINCT ?org) AS ?organisations) WHERE {
  ?m org:role ?role ; org:member ?org .
  ?org etc:country ?country
} GROUP BY ?country ?role ORDER BY ?country ?role"""),
    ("The 2018 seminar's projects and their partners", """SELECT ?acronym ?partner ?role WHERE {
  ?seminar a <http://data.europa.eu/m8g/PublicEvent> ; etc:presentedProject ?project .
  ?project etc:acronym ?acronym .
  OPTIONAL { ?m org:organization ?project ; org:member ?org ; org:role ?role .
             ?org rdfs:label ?partner FILTER(LANG(?partner) = "lv") }
} ORDER BY ?acronym"""),
    ("Organisations in Kurzeme", """SELECT ?org ?name WHERE {
  ?org etc:nutsRegion <http://data.europa.eu/nuts/code/LV003> ; rdfs:label ?name FILTER(LANG(?name) = "lv")
} ORDER BY ?name"""),
    ("Projects per theme", """SELECT ?theme ?label (COUNT(?project) AS ?projects) WHERE {
  ?project a etc:Project ; etc:theme ?theme .
  ?theme rdfs:label ?label FILTER(LANG(?label) = "en")
} GROUP BY ?theme ?label ORDER BY DESC(?projects)"""),
    ("Partners per country", """SELECT ?country (COUNT(?m) AS ?partnerships) WHERE {
  ?m a etc:Partnership ; org:member ?org .
  ?org etc:country ?country
} GROUP BY ?country ORDER BY DESC(?partnerships)"""),
    ("Projects with dates and budgets", """SELECT ?acronym ?start ?end ?total ?eu WHERE {
  ?project a etc:Project ; etc:acronym ?acronym .
  OPTIONAL { ?project schema:startDate ?start } OPTIONAL { ?project schema:endDate ?end }
  OPTIONAL { ?project etc:totalBudget ?total } OPTIONAL { ?project etc:euFunding ?eu }
} ORDER BY ?acronym LIMIT 200"""),
    ("People and their posts", """SELECT ?name ?post ?organisation WHERE {
  ?person <http://xmlns.com/foaf/0.1/name> ?name ; org:holds ?p .
  ?p rdfs:label ?post FILTER(LANG(?post) = "en")
  ?p org:postIn/rdfs:label ?organisation FILTER(LANG(?organisation) = "en")
}"""),
    ("Organisations and the organisations they belong to", """SELECT ?unit ?parent WHERE {
  ?u org:subOrganizationOf ?p .
  ?u rdfs:label ?unit FILTER(LANG(?unit) = "en")
  ?p rdfs:label ?parent FILTER(LANG(?parent) = "en")
}"""),
    ("Links to other datasets", """SELECT ?resource ?relation ?target ?linkset WHERE {
  GRAPH ?linkset { ?resource ?relation ?target }
  FILTER(CONTAINS(STR(?linkset), "/graph/links/"))
}"""),
]


def examples() -> list[dict[str, str]]:
    return [{"title": title, "query": PREFIXES + body} for title, body in EXAMPLES]
