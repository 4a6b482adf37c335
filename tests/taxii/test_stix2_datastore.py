"""stix2's TAXIICollectionSource, TAXIICollectionSink and TAXIICollectionStore with Filter queries."""

import uuid

import pytest
import stix2
from stix2 import Filter, TAXIICollectionSink, TAXIICollectionSource, TAXIICollectionStore
from stix2.datastore import DataSourceError

from helpers import COALITION, TEARLINE_MARKING_EXT, TLP, US_PRODUCTS, now_ts

US = "us-analyst"


def _indicator(name=None, **kw):
    return stix2.v21.Indicator(
        name=name or "stix2 indicator %s" % uuid.uuid4().hex[:8],
        description="made with stix2",
        indicator_types=["malicious-activity"],
        pattern="[domain-name:value = 'x%s.example.org']" % uuid.uuid4().hex[:10],
        pattern_type="stix",
        valid_from=now_ts(),
        **kw)


def test_store_add_get_query(client):
    store = TAXIICollectionStore(client(US).collection(COALITION))
    name = "store test %s" % uuid.uuid4().hex
    ind = _indicator(name=name)
    mal = stix2.v21.Malware(name="mal %s" % uuid.uuid4().hex[:8], is_family=False)
    rel = stix2.v21.Relationship(ind, "indicates", mal)
    store.add([ind, mal, rel])

    got = store.get(ind.id)
    assert got is not None and got.id == ind.id and got.name == name and got.pattern == ind.pattern
    assert store.get("indicator--%s" % uuid.uuid4()) is None

    # TAXII-side filters (id, type) and local ones (name) together.
    found = store.query([Filter("type", "=", "indicator"), Filter("id", "=", ind.id)])
    assert [o.id for o in found] == [ind.id]
    found = store.query([Filter("id", "=", ind.id), Filter("name", "=", name)])
    assert [o.id for o in found] == [ind.id]
    found = store.query([Filter("id", "=", ind.id), Filter("name", "=", "something else")])
    assert found == []
    assert [o.id for o in store.query([Filter("type", "=", "malware"), Filter("id", "=", mal.id)])] == [mal.id]

    # Relationship helpers go through queries too.
    rels = store.relationships(ind, "indicates", source_only=True)
    assert rel.id in [r.id for r in rels]


def test_store_versions(client):
    store = TAXIICollectionStore(client(US).collection(COALITION))
    v1 = _indicator()
    store.add(v1)
    v2 = v1.new_version(description="second version", modified=now_ts(1))
    store.add(v2)
    assert store.get(v1.id).modified == v2.modified
    versions = store.all_versions(v1.id)
    assert sorted(v.modified for v in versions) == sorted([v1.modified, v2.modified])
    first = store.query([Filter("id", "=", v1.id), Filter("version", "=", "first")])
    assert [o.modified for o in first] == [v1.modified]


def test_source_added_after_filter(client):
    coll = client(US).collection(COALITION)
    sink = TAXIICollectionSink(coll)
    a = _indicator()
    sink.add(a)
    source = TAXIICollectionSource(coll)
    assert [o.id for o in source.query([Filter("id", "=", a.id), Filter("added_after", "=", "2000-01-01T00:00:00Z")])] == [a.id]
    assert source.query([Filter("id", "=", a.id), Filter("added_after", "=", "2999-01-01T00:00:00Z")]) == []


def test_sink_refuses_read_only_collection(client):
    coll = client("iq-analyst").collection(US_PRODUCTS)
    with pytest.raises(DataSourceError):
        TAXIICollectionSink(coll)


@pytest.mark.tearline
def test_sink_with_tearline_marking_definition(client):
    """A Tearline marking-definition built with stix2 (extensions) travels with the objects using it."""
    md = stix2.v21.MarkingDefinition(
        created=now_ts(),
        extensions={TEARLINE_MARKING_EXT: {"extension_type": "property-extension", "originator": "USA",
                                           "classification": "C", "rel_to": ["USA", "IRQ"]}})
    ind = _indicator(object_marking_refs=[md.id, TLP["GREEN"]])
    bundle = stix2.v21.Bundle(md, ind)
    TAXIICollectionSink(client(US).collection(COALITION)).add(bundle)

    us = TAXIICollectionSource(client(US).collection(COALITION))
    assert us.get(ind.id).object_marking_refs == [md.id, TLP["GREEN"]]
    iq = TAXIICollectionSource(client("iq-analyst").collection(COALITION))
    assert iq.get(ind.id) is not None
    ru = TAXIICollectionSource(client("ru-analyst").collection(COALITION))
    assert ru.get(ind.id) is None
    assert ru.query([Filter("id", "=", ind.id)]) == []
    assert ru.all_versions(ind.id) == []
