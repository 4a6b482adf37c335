"""Paging with `limit`, `more` and `next` (TAXII 2.1 section 3.4), with taxii2-client's as_pages."""

import uuid

import pytest
from taxii2client.v21 import as_pages

from helpers import COALITION, Raw, assert_error, assert_taxii_response, envelope, ids_of, indicator, post_ok

US = "us-analyst"


@pytest.fixture
def five(raw):
    objs = [indicator() for _ in range(5)]
    post_ok(raw(US), COALITION, envelope(*objs))
    return [o["id"] for o in objs]


def _pages(session, path, params):
    pages = []
    resp = session.get(path, params=params)
    while True:
        assert_taxii_response(resp)
        body = resp.json()
        pages.append(body)
        if not body.get("more", False):
            return pages
        assert isinstance(body.get("next"), str) and body["next"]
        resp = session.get(path, params=dict(params, next=body["next"]))
        assert len(pages) < 20, "paging does not end"


def test_paging_objects_with_next(raw, five):
    params = {"match[id]": ",".join(five), "limit": 2}
    pages = _pages(raw(US), Raw.objects(COALITION), params)
    assert [len(ids_of(p)) for p in pages] == [2, 2, 1]
    assert [p.get("more", False) for p in pages] == [True, True, False]
    seen = [i for p in pages for i in ids_of(p)]
    assert sorted(seen) == sorted(five) and len(set(seen)) == 5


def test_paging_manifest_with_next(raw, five):
    params = {"match[id]": ",".join(five), "limit": 3}
    pages = _pages(raw(US), Raw.manifest(COALITION), params)
    assert [len(ids_of(p)) for p in pages] == [3, 2]
    assert sorted(i for p in pages for i in ids_of(p)) == sorted(five)


def test_as_pages_objects(client, five):
    coll = client(US).collection(COALITION)
    pages = list(as_pages(coll.get_objects, per_request=2, id=five))
    assert [len(ids_of(p)) for p in pages] == [2, 2, 1]
    assert sorted(i for p in pages for i in ids_of(p)) == sorted(five)


def test_as_pages_manifest(client, five):
    coll = client(US).collection(COALITION)
    pages = list(as_pages(coll.get_manifest, per_request=4, id=five))
    assert [len(ids_of(p)) for p in pages] == [4, 1]
    assert sorted(i for p in pages for i in ids_of(p)) == sorted(five)


def test_limit_exactly_all(raw, five):
    resp = raw(US).get(Raw.objects(COALITION), params={"match[id]": ",".join(five), "limit": 5})
    assert_taxii_response(resp)
    body = resp.json()
    assert len(ids_of(body)) == 5 and body.get("more", False) is False


def test_limit_above_server_maximum_is_not_an_error(raw, five):
    """A server may return fewer objects than asked for; a large limit is no error."""
    resp = raw(US).get(Raw.objects(COALITION), params={"match[id]": ",".join(five), "limit": 100000})
    assert_taxii_response(resp)
    assert sorted(ids_of(resp.json())) == sorted(five)


def test_forged_next_is_400(raw, five):
    session = raw(US)
    assert_error(session.get(Raw.objects(COALITION), params={"next": str(uuid.uuid4())}), 400)
    assert_error(session.get(Raw.objects(COALITION), params={"next": "not a token"}), 400)


@pytest.mark.tearline
def test_tampered_next_is_400(raw, five):
    session = raw(US)
    resp = session.get(Raw.objects(COALITION), params={"match[id]": ",".join(five), "limit": 2})
    assert_taxii_response(resp)
    token = resp.json()["next"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_error(session.get(Raw.objects(COALITION), params={"match[id]": ",".join(five), "limit": 2,
                                                             "next": flipped}), 400)
    # A manifest `next` is not an objects `next` (nor the other way round).
    resp = session.get(Raw.manifest(COALITION), params={"match[id]": ",".join(five), "limit": 2})
    assert_taxii_response(resp)
    assert_error(session.get(Raw.objects(COALITION), params={"match[id]": ",".join(five), "limit": 2,
                                                             "next": resp.json()["next"]}), 400)


@pytest.mark.tearline
def test_next_is_bound_to_its_caller(raw, five):
    """Another caller's `next` is rejected like a forged one."""
    params = {"match[id]": ",".join(five), "limit": 2}
    resp = raw(US).get(Raw.objects(COALITION), params=params)
    assert_taxii_response(resp)
    token = resp.json()["next"]
    for user in ("iq-analyst", "ru-analyst", "us-liaison"):
        assert_error(raw(user).get(Raw.objects(COALITION), params=dict(params, next=token)), 400)
    # Still good for its owner.
    resp = raw(US).get(Raw.objects(COALITION), params=dict(params, next=token))
    assert_taxii_response(resp)
    assert len(ids_of(resp.json())) == 2
