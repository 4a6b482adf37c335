"""Error cases: 400, 401, 403, 404, 406, 413, 415, 422 (TAXII 2.1 sections 1.6.7, 3.6)."""

import json
import uuid

import pytest

from helpers import (
    COALITION, TAXII, TLP, Raw, assert_error, assert_taxii_response, basic_header, envelope,
    ids_of, indicator, new_id, now_ts, post_ok,
)

US = "us-analyst"


# --- 400 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_bad_limit_is_400(raw, limit):
    assert_error(raw(US).get(Raw.objects(COALITION), params={"limit": limit}), 400)
    assert_error(raw(US).get(Raw.manifest(COALITION), params={"limit": limit}), 400)


@pytest.mark.medallion_deviation("medallion answers 500 to an unparsable added_after")
@pytest.mark.parametrize("value", ["yesterday", "2020-13-45T00:00:00Z", "1600000000"])
def test_bad_added_after_is_400(raw, value):
    assert_error(raw(US).get(Raw.objects(COALITION), params={"added_after": value}), 400)
    assert_error(raw(US).get(Raw.manifest(COALITION), params={"added_after": value}), 400)


@pytest.mark.medallion_deviation("medallion answers 500 to a match[version] that is no timestamp")
@pytest.mark.parametrize("value", ["newest", "2020-13-45T00:00:00Z"])
def test_bad_match_version_is_400(raw, value):
    assert_error(raw(US).get(Raw.objects(COALITION), params={"match[version]": value}), 400)


@pytest.mark.tearline
@pytest.mark.parametrize("param,value", [
    ("match[spec_version]", "banana"),
    ("match[id]", "not-an-id"),
])
def test_bad_filter_value_is_400(raw, param, value):
    assert_error(raw(US).get(Raw.objects(COALITION), params={param: value}), 400)


@pytest.mark.tearline
def test_malformed_json_is_400(raw):
    resp = raw(US).post(Raw.objects(COALITION), data=b"{not json")
    assert_error(resp, 400)


# --- 401 ----------------------------------------------------------------------------------------

PATHS = ["/taxii2/", "/api/", "/api/collections/", "/api/collections/%s/objects/" % COALITION,
         "/api/collections/%s/manifest/" % COALITION]


@pytest.mark.parametrize("path", PATHS)
def test_missing_credentials_is_401(raw, path):
    resp = raw(None).get(path)
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("WWW-Authenticate"), resp.headers


@pytest.mark.parametrize("path", PATHS)
def test_bad_password_is_401(raw, base_url, path):
    resp = raw(None).get(base_url + path, headers={"Authorization": basic_header(US, "wrong-" + uuid.uuid4().hex)})
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("WWW-Authenticate")


@pytest.mark.tearline
def test_401_is_a_taxii_error(raw):
    resp = raw(None).get("/api/collections/")
    assert_error(resp, 401)
    challenge = resp.headers["WWW-Authenticate"].lower()
    assert "bearer" in challenge or "basic" in challenge
    resp = raw(None).get("/api/", headers={"Authorization": "Bearer not-a-token-%s" % uuid.uuid4().hex})
    assert_error(resp, 401)
    assert resp.headers.get("WWW-Authenticate")
    resp = raw(None).post(Raw.objects(COALITION), envelope(indicator()))
    assert_error(resp, 401)


@pytest.mark.tearline
def test_bearer_token(raw, tokens):
    resp = raw(US, bearer=True).get("/api/collections/")
    assert_taxii_response(resp)
    assert COALITION in [c["id"] for c in resp.json()["collections"]]
    a = indicator()
    post_ok(raw(US, bearer=True), COALITION, envelope(a))
    assert ids_of(raw(US).get(Raw.objects(COALITION, a["id"])).json()) == [a["id"]]


# --- 403 (also in test_objects.py) ---------------------------------------------------------------

def test_post_to_read_only_collection_is_403_taxii_error(raw):
    from helpers import US_PRODUCTS
    assert_error(raw("iq-analyst").post(Raw.objects(US_PRODUCTS), envelope(indicator())), 403)


# --- 404 (also in test_discovery.py, test_objects.py) ------------------------------------------

def test_404_bodies_are_taxii_errors(raw):
    session = raw(US)
    assert_error(session.get(Raw.objects(COALITION, "indicator--%s" % uuid.uuid4())), 404)
    assert_error(session.get(Raw.status(str(uuid.uuid4()))), 404)
    assert_error(session.get("/api/collections/%s/" % uuid.uuid4()), 404)


# --- 406 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("accept", ["application/json", "text/html", "application/taxii+json;version=2.0",
                                    "application/vnd.oasis.taxii+json; version=2.0"])
@pytest.mark.parametrize("path", ["/taxii2/", "/api/", "/api/collections/",
                                  "/api/collections/%s/objects/" % COALITION,
                                  "/api/collections/%s/manifest/" % COALITION])
def test_bad_accept_is_406(raw, accept, path):
    assert_error(raw(US).get(path, headers={"Accept": accept}), 406)


@pytest.mark.medallion_deviation("medallion answers 406 to `application/taxii+json` without a version, "
                                 "which TAXII 2.1 section 1.6.8.1 reads as the latest version")
def test_accept_without_version_is_taxii_2_1(raw):
    resp = raw(US).get("/api/collections/", headers={"Accept": "application/taxii+json"})
    assert_taxii_response(resp)


def test_bad_accept_on_post_is_406(raw):
    resp = raw(US).post(Raw.objects(COALITION), envelope(indicator()), headers={"Accept": "application/json"})
    assert_error(resp, 406)


# --- 413 ----------------------------------------------------------------------------------------

def test_over_max_content_length_is_413(client, raw):
    max_len = client(US).api_root.max_content_length
    if max_len > 256 * 1024 * 1024:
        pytest.skip("max_content_length %d is too large to exceed in a test" % max_len)
    filler = "x" * (max_len + 1)
    body = json.dumps(envelope(indicator(description=filler))).encode()
    assert len(body) > max_len
    resp = raw(US).post(Raw.objects(COALITION), data=body)
    assert_error(resp, 413)


def test_at_most_max_content_length_is_accepted(client, raw):
    max_len = client(US).api_root.max_content_length
    a = indicator(description="")
    overhead = len(json.dumps(envelope(a)).encode())
    a["description"] = "y" * (min(max_len, 512 * 1024) - overhead - 64)
    body = json.dumps(envelope(a)).encode()
    assert len(body) <= max_len
    resp = raw(US).post(Raw.objects(COALITION), data=body)
    assert resp.status_code == 202, resp.text[:300]


# --- 415 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/taxii+json;version=2.0",
                                   "application/stix+json;version=2.1"])
def test_bad_content_type_is_415(raw, ctype):
    resp = raw(US).post(Raw.objects(COALITION), envelope(indicator()), headers={"Content-Type": ctype})
    assert_error(resp, 415)


def test_content_type_taxii_2_1_accepted(raw):
    for ctype in (TAXII, "application/taxii+json; version=2.1"):
        a = indicator()
        resp = raw(US).post(Raw.objects(COALITION), envelope(a), headers={"Content-Type": ctype})
        assert resp.status_code == 202, (ctype, resp.text)


# --- 422 ----------------------------------------------------------------------------------------

def test_envelope_without_objects_is_422(raw):
    assert_error(raw(US).post(Raw.objects(COALITION), {"items": [indicator()]}), 422)


def _assert_rejected_whole(raw, resp, sibling):
    """422, and the envelope's valid sibling was not stored either (nothing half-written)."""
    assert_error(resp, 422)
    assert_error(raw(US).get(Raw.objects(COALITION, sibling["id"])), 404)


@pytest.mark.tearline
@pytest.mark.parametrize("breakage", [
    "missing pattern", "bad timestamp", "id of another type", "bad id", "unknown spec_version",
    "modified before created", "no type"])
def test_invalid_stix_is_422(raw, breakage):
    good = indicator()
    bad = indicator()
    if breakage == "missing pattern":
        del bad["pattern"]
    elif breakage == "bad timestamp":
        bad["created"] = "yesterday"
    elif breakage == "id of another type":
        bad["id"] = new_id("malware")
    elif breakage == "bad id":
        bad["id"] = "indicator--not-a-uuid"
    elif breakage == "unknown spec_version":
        bad["spec_version"] = "9.9"
    elif breakage == "modified before created":
        bad["modified"] = "2001-01-01T00:00:00.000Z"
    elif breakage == "no type":
        del bad["type"]
    _assert_rejected_whole(raw, raw(US).post(Raw.objects(COALITION), envelope(good, bad)), good)


@pytest.mark.tearline
def test_unknown_marking_reference_is_422_naming_it(raw):
    unknown = new_id("marking-definition")
    good = indicator()
    bad = indicator(object_marking_refs=[unknown])
    resp = raw(US).post(Raw.objects(COALITION), envelope(good, bad))
    _assert_rejected_whole(raw, resp, good)
    assert unknown in resp.text


@pytest.mark.tearline
def test_marking_definition_not_understood_is_422_naming_it(raw):
    foreign = {
        "type": "marking-definition", "spec_version": "2.1", "id": new_id("marking-definition"),
        "created": now_ts(),
        "extensions": {new_id("extension-definition"): {"extension_type": "property-extension",
                                                       "level": "very secret"}},
    }
    good = indicator()
    bad = indicator(object_marking_refs=[foreign["id"]])
    resp = raw(US).post(Raw.objects(COALITION), envelope(foreign, good, bad))
    _assert_rejected_whole(raw, resp, good)
    assert foreign["id"] in resp.text


@pytest.mark.tearline
def test_marking_definition_with_bad_tearline_fields_is_422(raw):
    from helpers import TEARLINE_MARKING_EXT
    md = {
        "type": "marking-definition", "spec_version": "2.1", "id": new_id("marking-definition"),
        "created": now_ts(),
        "extensions": {TEARLINE_MARKING_EXT: {"extension_type": "property-extension", "originator": "USA",
                                              "classification": "S", "caveats": ["NOFORN"],
                                              "rel_to": ["USA", "IRQ"]}},  # NOFORN with REL TO
    }
    good = indicator()
    resp = raw(US).post(Raw.objects(COALITION), envelope(md, good, indicator(object_marking_refs=[md["id"]])))
    _assert_rejected_whole(raw, resp, good)
    assert md["id"] in resp.text


@pytest.mark.tearline
def test_tlp_markings_by_official_id_are_understood(raw):
    objs = [indicator(object_marking_refs=[TLP[level]]) for level in ("CLEAR", "GREEN", "AMBER")]
    # TLP 1.0 ids are accepted on input too (WHITE read as CLEAR).
    objs.append(indicator(object_marking_refs=["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]))
    status = post_ok(raw(US), COALITION, envelope(*objs))
    assert status["success_count"] == 4 and status["failure_count"] == 0


@pytest.mark.tearline
def test_a_stored_marking_definition_cannot_change(raw):
    """Marking definitions have no versions: posting another under a stored id is refused, so that
    nobody can change what a marking means for objects already using it."""
    from helpers import tearline_marking
    md = tearline_marking("C", rel_to=["USA", "IRQ"])
    status = post_ok(raw(US), COALITION, envelope(md, indicator(object_marking_refs=[md["id"]])))
    assert status["success_count"] == 2, status
    # The same definition again is fine (an exact duplicate).
    assert post_ok(raw(US), COALITION, envelope(md))["success_count"] == 1
    # Another meaning under the same id, even with another `created`, is not.
    changed = dict(md, created=now_ts(5))
    changed["extensions"] = {k: dict(v, classification="U") for k, v in md["extensions"].items()}
    good = indicator()
    resp = raw(US).post(Raw.objects(COALITION), envelope(changed, good))
    _assert_rejected_whole(raw, resp, good)
    assert md["id"] in resp.text


@pytest.mark.tearline
def test_error_answers_close_the_connection(raw):
    """An error may be answered before the request's body is read: the server says it closes the
    connection, so that a client does not send its next request on a connection being reset."""
    answers = [
        raw(US).post(Raw.objects(COALITION), envelope(indicator()), headers={"Content-Type": "text/plain"}),
        raw(None).post(Raw.objects(COALITION), envelope(indicator())),
        raw(US).get(Raw.objects(COALITION, new_id("indicator"))),
    ]
    for resp in answers:
        assert resp.status_code in (415, 401, 404), resp.status_code
        assert resp.headers.get("Connection", "").lower() == "close", (resp.status_code, dict(resp.headers))
    # The session goes on working on a fresh connection.
    assert raw(US).post(Raw.objects(COALITION), envelope(indicator())).status_code == 202
