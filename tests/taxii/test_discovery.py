"""Server discovery, API root information, collections (TAXII 2.1 sections 4.1, 4.2, 5.1, 5.2)."""

import uuid

import pytest

from helpers import (
    COALITION, STIX, TAXII, US_PRODUCTS, Raw, assert_error, assert_taxii_response,
)


def test_discovery_with_taxii2_client(client, api_url):
    server = client("us-analyst").server
    assert isinstance(server.title, str) and server.title
    urls = [root.url for root in server.api_roots]
    assert api_url in urls
    if server.default is not None:
        assert server.default.url in urls


def test_discovery_raw(raw, api_url):
    resp = raw("iq-analyst").get("/taxii2/")
    assert_taxii_response(resp)
    body = resp.json()
    assert isinstance(body["title"], str)
    assert api_url in body["api_roots"]


def test_api_root_information(client):
    root = client("us-analyst").api_root
    assert isinstance(root.title, str) and root.title
    assert TAXII in [v.replace(" ", "") for v in root.versions]
    assert isinstance(root.max_content_length, int) and root.max_content_length > 0


def test_unknown_api_root_is_404(raw):
    assert_error(raw("us-analyst").get("/no-such-root-%s/" % uuid.uuid4().hex), 404)


def test_collections_list(client):
    cols = {c.id: c for c in client("us-analyst").api_root.collections}
    assert COALITION in cols and US_PRODUCTS in cols
    assert cols[COALITION].title == "Coalition indicators"
    assert cols[US_PRODUCTS].title == "US products"
    for c in cols.values():
        assert isinstance(c.can_read, bool) and isinstance(c.can_write, bool)
        assert STIX in [m.replace(" ", "") for m in c.media_types]


def test_get_one_collection(client, raw):
    coll = client("iq-analyst").collection(COALITION)
    coll.refresh()
    assert coll.id == COALITION and coll.title == "Coalition indicators"
    assert coll.can_read is True
    resp = raw("iq-analyst").get("/api/collections/%s/" % COALITION)
    assert_taxii_response(resp)
    assert resp.json()["id"] == COALITION


def test_unknown_collection_is_404(raw):
    missing = str(uuid.uuid4())
    session = raw("us-analyst")
    assert_error(session.get("/api/collections/%s/" % missing), 404)
    assert_error(session.get(Raw.objects(missing)), 404)
    assert_error(session.get(Raw.manifest(missing)), 404)
    assert_error(session.get(Raw.objects(missing, "indicator--%s" % uuid.uuid4())), 404)


# --- Tearline: permissions per caller ------------------------------------------------------------

EXPECTED = {
    # user: {collection: (can_read, can_write)}
    "us-analyst": {COALITION: (True, True), US_PRODUCTS: (True, True)},
    "us-liaison": {COALITION: (True, True), US_PRODUCTS: (True, True)},
    "iq-analyst": {COALITION: (True, True), US_PRODUCTS: (True, False)},
    "ru-analyst": {COALITION: (True, True), US_PRODUCTS: (True, False)},
    "sy-analyst": {COALITION: (True, False), US_PRODUCTS: (True, False)},
}


@pytest.mark.tearline
@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_can_read_can_write_per_caller(client, user):
    cols = {c.id: c for c in client(user).api_root.collections}
    for coll_id, (can_read, can_write) in EXPECTED[user].items():
        assert coll_id in cols, (user, coll_id)
        assert (cols[coll_id].can_read, cols[coll_id].can_write) == (can_read, can_write), (user, coll_id)
        # The single-collection endpoint says the same as the list.
        one = client(user).collection(coll_id)
        one.refresh()
        assert (one.can_read, one.can_write) == (can_read, can_write), (user, coll_id)


PARTY = {"us-analyst": "USA", "iq-analyst": "IRQ", "ru-analyst": "RUS", "sy-analyst": "SYR"}


@pytest.mark.tearline
@pytest.mark.parametrize("user", sorted(PARTY))
def test_released_to_collections_only_for_own_party(client, raw, user):
    titles = {c.title: c for c in client(user).api_root.collections}
    own = "Released to %s" % PARTY[user]
    assert own in titles, sorted(titles)
    assert titles[own].can_read is True and titles[own].can_write is False
    others = [t for t in titles if t.startswith("Released to ") and t != own]
    assert others == [], others
    # Another party's collection answers exactly like a missing one.
    other_user = "iq-analyst" if user != "iq-analyst" else "ru-analyst"
    other_coll = client(other_user).collection_by_title("Released to %s" % PARTY[other_user])
    assert other_coll is not None
    session = raw(user)
    missing = str(uuid.uuid4())
    for path in ("/api/collections/%s/", "/api/collections/%s/objects/", "/api/collections/%s/manifest/"):
        hidden = session.get(path % other_coll.id)
        absent = session.get(path % missing)
        assert_error(hidden, 404)
        assert_error(absent, 404)
        assert hidden.content.replace(other_coll.id.encode(), b"X") == absent.content.replace(missing.encode(), b"X")
