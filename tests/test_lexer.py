"""The one SPARQL tokenizer: the grammar's terminals, and SERVICE hidden in every lexical
context (hypothesis), checked against what Oxigraph really does with the query."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from conftest import LoopbackListener
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etclod.errors import QueryError
from etclod.lexer import MAX_NESTING, tokenize
from etclod.query import CheckedQuery, check_query


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.value) for t in tokenize(text)]


@pytest.mark.parametrize("text, expected", [
    # comments end at CR or LF (SPARQL 1.1, 19.4)
    ("# c\rASK", [("word", "ASK")]),
    ("# c\nASK", [("word", "ASK")]),
    ("# c\u2028ASK", []),  # no other line break ends one
    # PN_LOCAL: escapes, PLX, dots inside only, colons
    ("ex:a\\#", [("pname", "ex:a#")]),
    ("ex:a\\'b", [("pname", "ex:a'b")]),
    ("ex:%41b", [("pname", "ex:%41b")]),
    ("ex:a.b.", [("pname", "ex:a.b"), ("punct", ".")]),
    ("ex:a\\.", [("pname", "ex:a.")]),
    ("ex::x:", [("pname", "ex::x:")]),
    (":x", [("pname", ":x")]),
    ("a.b:c", [("pname", "a.b:c")]),
    ("ex:", [("pname", "ex:")]),
    # strings: four forms, ECHAR, UCHAR decoded inside only
    ("'a\\'b'", [("string", "a'b")]),
    ('"a\\"b"', [("string", 'a"b')]),
    ("'''a'b''c'''", [("string", "a'b''c")]),
    ('"""a\n"b"""', [("string", 'a\n"b')]),
    ('"""a""""', None),  # the first """ ends it: the last quote opens a string never closed
    ('"\\u0041\\U0001F600"', [("string", "A\U0001F600")]),
    ('"\\\\u0041"', [("string", "\\u0041")]),
    ("'a\\u0027 b'", [("string", "a' b")]),
    ('"a\\u005c"', [("string", "a\\")]),
    # IRIs: UCHAR decoded; '#' and "'" are IRI characters
    ("<http://a/\\u0041#'>", [("iri", "http://a/A#'")]),
    # variables, blank nodes, language tags (with a direction), numbers
    ("?x $y", [("var", "x"), ("var", "y")]),
    ("_:b.c _:d.", [("bnode", "_:b.c"), ("bnode", "_:d"), ("punct", ".")]),
    ("'x'@en-GB--ltr", [("string", "x"), ("langtag", "@en-GB--ltr")]),
    ("1 1.5 .5 1.e3 1e3 1.", [("number", "1"), ("number", "1.5"), ("number", ".5"), ("number", "1.e3"),
                               ("number", "1e3"), ("number", "1"), ("punct", ".")]),
    ("trueSERVICE", [("word", "TRUESERVICE")]),
    # '<' compares after an operand inside an expression, and opens an IRI elsewhere
    ("FILTER(?o<1)", [("word", "FILTER"), ("punct", "("), ("var", "o"), ("punct", "<"), ("number", "1"),
                      ("punct", ")")]),
    ("FILTER(?o<=?b)", [("word", "FILTER"), ("punct", "("), ("var", "o"), ("punct", "<="), ("var", "b"),
                        ("punct", ")")]),
    ("{ ?s <p#x> ?o }", [("punct", "{"), ("var", "s"), ("iri", "p#x"), ("var", "o"), ("punct", "}")]),
    ("FILTER(<a> < <b>)", [("word", "FILTER"), ("punct", "("), ("iri", "a"), ("punct", "<"), ("iri", "b"),
                           ("punct", ")")]),
    ("{ ?s ?p (?a <b>) }", [("punct", "{"), ("var", "s"), ("var", "p"), ("punct", "("), ("var", "a"),
                            ("iri", "b"), ("punct", ")"), ("punct", "}")]),
    ("SELECT (?a<?b AS ?c)", [("word", "SELECT"), ("punct", "("), ("var", "a"), ("punct", "<"), ("var", "b"),
                              ("word", "AS"), ("var", "c"), ("punct", ")")]),
    ("FILTER(EXISTS { ?s <p> ?o })", [("word", "FILTER"), ("punct", "("), ("word", "EXISTS"), ("punct", "{"),
                                      ("var", "s"), ("iri", "p"), ("var", "o"), ("punct", "}"), ("punct", ")")]),
    ("<< ?s ?p ?o >>", [("punct", "<<"), ("var", "s"), ("var", "p"), ("var", "o"), ("punct", ">>")]),
])
def test_terminals_follow_the_grammar(text, expected) -> None:
    if expected is None:
        with pytest.raises(QueryError, match="not closed"):
            tokenize(text)
    else:
        assert kinds(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("ASK { \\u0053ERVICE <x> {} }", "codepoint escapes"),
    ("'a\nb'", "not closed on its line"),
    ('"\\q"', "starts no escape"),
    ('"\\uD800"', "not a Unicode character"),
    ("<http://a\\u003e>", "may not hold"),
])
def test_what_readers_disagree_on_is_refused_with_its_place(text, fragment) -> None:
    with pytest.raises(QueryError, match=fragment) as caught:
        tokenize(text)
    assert "line 1, column" in caught.value.message or "line 2" in caught.value.message


def test_nesting_is_counted_without_recursion() -> None:
    deep = "SELECT * WHERE " + "{" * 3000 + "}" * 3000
    with pytest.raises(QueryError) as caught:
        tokenize(deep)
    assert caught.value.code == "query_too_deep" and str(MAX_NESTING) in caught.value.message
    assert tokenize("ASK " + "{" * MAX_NESTING + "}" * MAX_NESTING)[-1].text == "}"


def test_a_long_chain_is_one_pass() -> None:
    """`ASK {} a.a.a...` took seconds with a tokenizer that rescanned each name run."""
    tokens = tokenize("ASK {} " + "a." * 10_000)
    assert len(tokens) == 3 + 20_000


@pytest.fixture(scope="module")
def listener():
    server = LoopbackListener()
    yield server
    server.close()


def run_on_oxigraph(query: str) -> None:
    """Evaluate ``query`` as the engine would, on a store where every pattern matches."""
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://s"), ox.NamedNode("http://p"), ox.Literal(True), ox.DefaultGraph()))
    store.add(ox.Quad(ox.NamedNode("http://s"), ox.NamedNode("http://p"), ox.Literal(1), ox.DefaultGraph()))
    try:
        result = store.query(query)
        if not isinstance(result, ox.QueryBoolean):
            list(result)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass


def hidden_service(url: str) -> st.SearchStrategy[str]:
    """Queries with a SERVICE clause to ``url`` behind every lexical trick we know of."""
    keyword = st.sampled_from(["SERVICE", "service", "SeRvIcE", "SERVICE SILENT", "SERVICESILENT", "SERVICE\tSILENT"])
    endpoint = st.sampled_from([f"<{url}>", "?e", "ex:e", "ex:", ":e", "<e>"])
    gap = st.sampled_from([" ", "", "\t", "\r", "\n", "\r\n", "#c\n", "#c\r", "\x0c"])
    opener = st.sampled_from([
        "# note", "# note\\", "#", "'", '"', "'''", '"""', "'a\\'", '"a\\"', "'a\\u0027", '"a\\u0022',
        "'''a''", '"""a""', "ex:a\\#", "ex:a\\'", 'ex:a\\"', "ex:a\\", "ex:a.", "_:a", "?o<", "?o<'>'",
        "FILTER(?o<2)", "FILTER(?o<?b", "FILTER(?o < 1)", "FILTER(1<2)", "true", "false", "1", "1.0", "1e1",
        "1.", "<", "<x#", "<x'", "\\u0053", "BIND(1 AS ?x)", "OPTIONAL{}", "MINUS{}", "?s ?p true",
        "?s ?p 1", "?s ?p ?o .", "{|", "<<", "ex:a\\.", "'x'@en", '"x"^^ex:t',
    ])
    closer = st.sampled_from(["", "#'", '#"', "'", '"', "'''", '"""', ">", "#>", "#>\n", ")", "}", "\n"])
    body = st.tuples(opener, gap, keyword, gap, endpoint, gap, st.sampled_from(["{ ?s ?p ?o }", "{}"]), closer)
    return body.map(lambda parts: (f"PREFIX ex: <{url}#> PREFIX : <{url}#> BASE <{url}> "
                                   f"SELECT * WHERE {{ BIND(<{url}> AS ?e) ?s ?p ?o {''.join(parts)} \n}}"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_the_check_passes_makes_oxigraph_connect(listener, data) -> None:
    query = data.draw(hidden_service(listener.url))
    try:
        check_query(query, 100_000)
    except QueryError:
        return
    before = listener.connections()
    run_on_oxigraph(query)
    assert listener.connections() == before, f"the check passed a query that connected out: {query!r}"


REPRODUCERS = [  # the three, and the ones found while writing the tokenizer
    "SELECT ?leak WHERE {{ # note\rSERVICE <{url}> {{ ?leak ?p ?o }}\n}}",
    "PREFIX ex: <http://e/> SELECT ?leak WHERE {{ OPTIONAL {{ ?x ex:a\\# ?y }} SERVICE <{url}> {{ ?leak ?p ?o }}\n}}",
    "PREFIX ex: <http://e/> SELECT ?leak WHERE {{ OPTIONAL {{ ?x ex:a\\' ?y }} SERVICE <{url}> {{ ?leak ?p ?o }}\n}}",
    "SELECT * WHERE {{ ?s ?p ?o FILTER(STR(?o)<'>')SERVICE<{url}>{{ ?s ?p ?o }} #'\n}}",
    "SELECT * WHERE {{ ?s ?p trueSERVICE <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p ?o SERVICESILENT <{url}> {{ ?s ?p ?o }} }}",
    "PREFIX ex: <{url}#> SELECT * WHERE {{ ?s ?p ?o SERVICEex:e {{ ?s ?p ?o }} }}",
]


@pytest.mark.parametrize("template", REPRODUCERS)
def test_reproducers_connect_without_the_check_and_are_refused_with_it(listener, template) -> None:
    query = template.format(url=listener.url)
    before = listener.connections()
    run_on_oxigraph(query)
    assert listener.connections() > before, "the reproducer no longer reaches out: it tests nothing"
    with pytest.raises(QueryError) as caught:
        check_query(query, 100_000)
    assert caught.value.code == "service_refused"


def test_service_behind_a_comparison_that_reads_as_an_iri_is_seen() -> None:
    """``<2)SERVICE?e#>`` is an IRI to a context-free tokenizer; Oxigraph reads ``?o < 2``, then
    SERVICE (it cannot call a variable endpoint itself, but a SPARQL server may)."""
    query = "SELECT * WHERE { BIND(<http://127.0.0.1:9/> AS ?e) ?s ?p ?o FILTER(?o<2)SERVICE?e#>\n{ ?s ?p ?o } }"
    with pytest.raises(QueryError) as caught:
        check_query(query, 100_000)
    assert caught.value.code == "service_refused"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SELECT*WHERE{}()<>?o1'\"#\\\r\n .:ex;,[]|^a")), max_size=80))
def test_any_text_is_tokenised_or_refused_with_a_query_error(text) -> None:
    try:
        CheckedQuery.read(text)
    except QueryError as exc:
        assert exc.status == 400 and exc.message


def test_written_out_for_a_server_the_query_reads_the_same() -> None:
    query = ("PREFIX ex: <http://e/> BASE <http://b/>\nSELECT ?s # comment ex:gone\r"
             "WHERE { ?s ex:a\\# 'it\\'s \\u0041' ; <rel> \"\"\"x\ny\"\"\" FILTER(?s<1) }")
    checked = CheckedQuery.read(query)
    text = checked.for_server({"http://b/rel": "urn:v:rel"})
    assert "#" not in text.replace("<http://e/a#>", "") and "PREFIX" not in text
    assert "<http://e/a#>" in text and "<urn:v:rel>" in text and '"x\\ny"' in text
    assert text.count("\n") == query.count("\n") - 1  # the line break inside the long string is escaped
    assert [t.value for t in tokenize(text) if t.kind == "string"] == ["it's A", "x\ny"]
    assert "COALESCE(1)" in CheckedQuery.read("SELECT (COALESCE(1) AS ?x) {}").for_server()  # not COALESCE (1)
