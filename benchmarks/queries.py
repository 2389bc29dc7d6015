"""The research queries of the benchmarks: run by benchmarks/run.py on each store, and by the
tests, which check that Oxigraph and Virtuoso give the same solutions for them."""

ETC = "https://w3id.org/etclod/def#"
ORG = "http://www.w3.org/ns/org#"
PREFIXES = f"PREFIX etc: <{ETC}> PREFIX org: <{ORG}> PREFIX dct: <http://purl.org/dc/terms/>\n"
QUERIES = {
    "funding per programme (agg)": "SELECT ?prog (COUNT(?p) AS ?projects) (SUM(?eu) AS ?funding) WHERE { "
                                   "?p etc:programme ?prog . OPTIONAL { ?p etc:euFunding ?eu } } GROUP BY ?prog "
                                   "ORDER BY DESC(?funding)",
    "top lead partners (agg)": "SELECT ?org (COUNT(?m) AS ?n) WHERE { ?m org:role etc:LeadPartner ; org:member ?org } "
                               "GROUP BY ?org ORDER BY DESC(?n) LIMIT 20",
    "partners of partners": "SELECT DISTINCT ?other WHERE { ?m1 org:organization <{base}id/project/p000001> ; "
                            "org:member ?org . ?m2 org:member ?org ; org:organization ?p2 . "
                            "?m3 org:organization ?p2 ; org:member ?other FILTER(?other != ?org) }",
    "projects by theme, country (agg)": "SELECT ?theme ?country (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p etc:theme ?theme . "
                                        "?m org:organization ?p ; org:member ?o . ?o etc:country ?country } "
                                        "GROUP BY ?theme ?country",
    "title filter": "SELECT ?p ?t WHERE { ?p a etc:Project ; dct:title ?t FILTER(CONTAINS(LCASE(?t), \"healthy\")) } "
                    "LIMIT 100",
}
