"""The query layer's reading of SPARQL text: the IRIs it names, its dataset, rewriting them."""

from __future__ import annotations

import pytest

from etclod.errors import QueryError
from etclod.query import check_syntax, dataset, iri_uses, query_form, rewrite_iris, without_dataset_clauses

G = "http://localhost:8000/graph/themes"
QUERY = f'''BASE <http://localhost:8000/>
PREFIX g: <http://localhost:8000/graph/>  # g:themes in a comment stays
SELECT ?s FROM g:themes FROM NAMED <graph/nuts-2016>
WHERE {{ GRAPH <{G}> {{ ?s ?p "g:themes <{G}>" }} }}'''


def test_iris_written_in_full_relative_or_prefixed_are_found_outside_strings_and_comments() -> None:
    found = [iri for iri, _, _ in iri_uses(QUERY)]
    assert found == [G, "http://localhost:8000/graph/nuts-2016", G]


def test_rewriting_touches_only_the_named_iris() -> None:
    out = rewrite_iris(QUERY, {G: "urn:v1:themes"})
    assert out.count("<urn:v1:themes>") == 2
    assert f'"g:themes <{G}>"' in out and "# g:themes in a comment stays" in out
    assert "<graph/nuts-2016>" in out


def test_dataset_follows_sparql_rules() -> None:
    assert dataset(QUERY, {}) == ((G,), ("http://localhost:8000/graph/nuts-2016",))
    assert dataset(QUERY, {"named-graph-uri": ["urn:x"]}) == ((), ("urn:x",))
    assert dataset("SELECT * WHERE { ?s ?p ?o }", {}) == (None, None)
    stripped = without_dataset_clauses(QUERY)
    assert "FROM" not in stripped and dataset(stripped, {}) == (None, None)


@pytest.mark.parametrize("query, form", [("ASK {}", "ask"), ("PREFIX a: <x:> CONSTRUCT WHERE { ?s ?p ?o }", "construct"),
                                         ("DESCRIBE <x:y>", "describe"), ("INSERT DATA {}", None)])
def test_query_form(query, form) -> None:
    assert query_form(query) == form


def test_strict_syntax_check_evaluates_nothing() -> None:
    check_syntax("ASK { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")  # would connect if evaluated
    with pytest.raises(QueryError, match="line 1, column 1"):
        check_syntax('DEFINE input:grab-all "yes" SELECT * WHERE { ?s ?p ?o }')


def test_a_text_that_passed_is_not_read_again_and_a_refused_one_always_is() -> None:
    """check_query remembers the verdicts on texts that passed (a pure function of the text and
    the settings): the same text again is the same CheckedQuery, with other settings it is read
    anew; a refusal is never remembered. for_server's re-reading of its text likewise."""
    from etclod.errors import ServiceRefusedError
    from etclod.query import _CHECKED, _WRITTEN, check_query

    text = "SELECT * WHERE { ?s ?p ?o } # remembered"
    first = check_query(text, 1000)
    assert check_query(text, 1000) is first
    assert check_query(text, 1000, base_iri="http://b/sparql") is not first  # another key: read again
    with pytest.raises(QueryError):
        check_query(text, 10)  # the length limit is part of the key
    refused = "SELECT * WHERE { SERVICE <http://elsewhere/sparql> { ?s ?p ?o } }"
    for _ in range(2):
        with pytest.raises(ServiceRefusedError):
            check_query(refused, 1000)
    assert check_query(refused, 1000, ("http://elsewhere/sparql",)).form == "select"  # allowed: passes
    written = first.for_server()
    assert _WRITTEN.get((written,)) == tuple((t.kind, t.value) for t in first.tokens)
    assert _CHECKED.held <= _CHECKED.budget


def test_a_remembered_verdict_is_counted_by_what_it_holds() -> None:
    """One long PREFIX used many times: a 16 KB text whose verdict holds every use's expanded
    IRI (megabytes). The memory of remembered verdicts is bounded by what they hold, not by
    the length of their texts (found by a review: 16 such texts kept 227 MB)."""
    from etclod.query import _CHECKED, check_query

    iri = "http://example.org/" + "x" * 7000
    text = f"PREFIX p: <{iri}>\nSELECT * WHERE {{ " + " ".join(f"?s{i} p:a ?o{i} ." for i in range(400)) + " }"
    before = _CHECKED.held
    checked = check_query(text, 100_000)
    expanded = sum(len(i) for _, i in checked.iris)
    assert expanded > 400 * 7000
    assert _CHECKED.held - before in (0, len(text) + expanded)  # not kept (too large), or counted in full
    assert _CHECKED.held <= _CHECKED.budget
