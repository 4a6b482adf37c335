"""Objects, a single object, versions, manifest, status, deletes (TAXII 2.1 sections 4.3, 5.3-5.8).

Writes go to "Coalition indicators" as us-analyst (an originator reads back all it posted). Ids are
uuid4 per test, so tests are independent of each other and of earlier runs.
"""

import datetime as dt
import time
import uuid

import pytest

from helpers import (
    COALITION, STIX, US_PRODUCTS, Raw, assert_error, assert_taxii_response, envelope, ids_of,
    indicator, malware, new_version, now_ts, objects_of, post_ok,
)

US = "us-analyst"


def test_add_and_get_objects_with_taxii2_client(client):
    coll = client(US).collection(COALITION)
    a, b = indicator(), indicator()
    status = coll.add_objects(envelope(a, b), wait_for_completion=True, poll_interval=0.2, timeout=10)
    assert status.status == "complete"
    assert status.total_count == 2 and status.success_count == 2
    assert status.failure_count == 0 and status.pending_count == 0
    assert sorted(d["id"] for d in status.successes) == sorted([a["id"], b["id"]])
    got = coll.get_objects(id=[a["id"], b["id"]])
    assert sorted(ids_of(got)) == sorted([a["id"], b["id"]])
    by_id = {o["id"]: o for o in objects_of(got)}
    assert by_id[a["id"]]["pattern"] == a["pattern"]
    assert by_id[a["id"]]["name"] == a["name"]


@pytest.mark.tearline
def test_post_is_synchronous(client):
    """Tearline posts synchronously: the status that POST returns is already complete."""
    coll = client(US).collection(COALITION)
    a = indicator()
    status = coll.add_objects(envelope(a), wait_for_completion=False)
    assert status.status == "complete"
    assert status.success_count == 1 and status.pending_count == 0
    assert ids_of(coll.get_object(a["id"])) == [a["id"]]


def test_post_returns_202_and_status_resource(raw):
    a = indicator()
    status = post_ok(raw(US), COALITION, envelope(a))
    assert isinstance(status["id"], str) and status["id"]
    assert status["status"] in ("complete", "pending")
    assert status["total_count"] == 1
    assert status["success_count"] + status["failure_count"] + status["pending_count"] == 1


def test_get_status(client, raw):
    a, b = indicator(), indicator()
    status = post_ok(raw(US), COALITION, envelope(a, b))
    again = client(US).api_root.get_status(status["id"])
    assert again.id == status["id"]
    assert again.total_count == 2
    if again.status == "complete":
        assert again.success_count == 2
        assert sorted(d["id"] for d in again.successes) == sorted([a["id"], b["id"]])
    resp = raw(US).get(Raw.status(status["id"]))
    assert_taxii_response(resp)
    assert resp.json()["id"] == status["id"]


def test_unknown_status_is_404(raw):
    assert_error(raw(US).get(Raw.status(str(uuid.uuid4()))), 404)


def test_duplicate_add_not_stored_twice(client, raw):
    coll = client(US).collection(COALITION)
    a = indicator()
    post_ok(raw(US), COALITION, envelope(a))
    resp = raw(US).post(Raw.objects(COALITION), envelope(a))
    assert resp.status_code == 202, resp.text
    versions = coll.object_versions(a["id"])
    assert versions["versions"] == [a["modified"]]
    assert ids_of(coll.get_objects(id=a["id"], version="all")) == [a["id"]]
    assert len(objects_of(coll.get_manifest(id=a["id"], version="all"))) == 1


@pytest.mark.medallion_deviation("medallion counts an exact duplicate as a failure")
def test_duplicate_add_is_a_success(raw):
    """An exact duplicate (same id and version) is not an error: counted as a success."""
    a = indicator()
    post_ok(raw(US), COALITION, envelope(a))
    status = post_ok(raw(US), COALITION, envelope(a))
    assert status["status"] == "complete"
    assert status["total_count"] == 1
    assert status["success_count"] == 1 and status["failure_count"] == 0
    # A duplicate within one envelope as well.
    b = indicator()
    status = post_ok(raw(US), COALITION, envelope(b, b))
    assert status["failure_count"] == 0
    assert status["success_count"] == status["total_count"] == 2


def test_get_object(client):
    coll = client(US).collection(COALITION)
    a = indicator()
    coll.add_objects(envelope(a), poll_interval=0.2, timeout=10)
    got = coll.get_object(a["id"])
    assert objects_of(got) == [a]


def test_get_unknown_object_is_404(raw):
    session = raw(US)
    missing = "indicator--%s" % uuid.uuid4()
    assert_error(session.get(Raw.objects(COALITION, missing)), 404)
    assert_error(session.get(Raw.versions(COALITION, missing)), 404)


@pytest.fixture
def three_versions(raw):
    """One indicator in three versions, each posted in its own request (so date_added grows)."""
    t1, t2, t3 = now_ts(-3), now_ts(-2), now_ts(-1)
    v1 = indicator(ts=t1)
    v2, v3 = new_version(v1, t2), new_version(v1, t3)
    for v in (v1, v2, v3):
        post_ok(raw(US), COALITION, envelope(v))
        time.sleep(0.01)
    return v1, v2, v3


def test_object_versions(client, three_versions):
    v1, v2, v3 = three_versions
    coll = client(US).collection(COALITION)
    body = coll.object_versions(v1["id"])
    assert set(body["versions"]) == {v1["modified"], v2["modified"], v3["modified"]}
    assert body.get("more", False) is False


@pytest.mark.medallion_deviation("medallion lists versions newest first; TAXII 2.1 sorts by date_added ascending")
def test_object_versions_sorted_by_date_added(client, three_versions):
    v1, v2, v3 = three_versions
    body = client(US).collection(COALITION).object_versions(v1["id"])
    assert body["versions"] == [v1["modified"], v2["modified"], v3["modified"]]


def test_object_versions_paging(raw, three_versions):
    v1, v2, v3 = three_versions
    session = raw(US)
    resp = session.get(Raw.versions(COALITION, v1["id"]), params={"limit": 2})
    assert_taxii_response(resp)
    first = resp.json()
    assert len(first["versions"]) == 2 and first["more"] is True and first.get("next")
    resp = session.get(Raw.versions(COALITION, v1["id"]), params={"limit": 2, "next": first["next"]})
    assert_taxii_response(resp)
    second = resp.json()
    assert len(second["versions"]) == 1 and second.get("more", False) is False
    assert set(first["versions"] + second["versions"]) == {v1["modified"], v2["modified"], v3["modified"]}


def test_match_version_on_objects(client, three_versions):
    v1, v2, v3 = three_versions
    coll = client(US).collection(COALITION)
    # Default: the latest version only.
    assert objects_of(coll.get_objects(id=v1["id"])) == [v3]
    assert objects_of(coll.get_objects(id=v1["id"], version="last")) == [v3]
    assert objects_of(coll.get_objects(id=v1["id"], version="first")) == [v1]
    assert objects_of(coll.get_objects(id=v1["id"], version=v2["modified"])) == [v2]
    everything = objects_of(coll.get_objects(id=v1["id"], version="all"))
    assert sorted(o["modified"] for o in everything) == sorted([v1["modified"], v2["modified"], v3["modified"]])
    both = objects_of(coll.get_objects(id=v1["id"], version="first,last"))
    assert sorted(o["modified"] for o in both) == sorted([v1["modified"], v3["modified"]])
    two = objects_of(coll.get_objects(id=v1["id"], version=[v1["modified"], v2["modified"]]))
    assert sorted(o["modified"] for o in two) == sorted([v1["modified"], v2["modified"]])
    assert objects_of(coll.get_objects(id=v1["id"], version="2001-01-01T00:00:00.000Z")) == []


def test_match_version_on_single_object(client, three_versions):
    """Get an Object: without match[version] the latest version (TAXII 2.1 section 3.4.2)."""
    v1, v2, v3 = three_versions
    coll = client(US).collection(COALITION)
    assert objects_of(coll.get_object(v1["id"])) == [v3]
    assert objects_of(coll.get_object(v1["id"], version="first")) == [v1]
    assert objects_of(coll.get_object(v1["id"], version=v2["modified"])) == [v2]
    assert len(objects_of(coll.get_object(v1["id"], version="all"))) == 3


def test_match_version_on_manifest(client, three_versions):
    v1, v2, v3 = three_versions
    coll = client(US).collection(COALITION)
    last = objects_of(coll.get_manifest(id=v1["id"]))
    assert [(m["id"], m["version"]) for m in last] == [(v1["id"], v3["modified"])]
    every = objects_of(coll.get_manifest(id=v1["id"], version="all"))
    assert sorted(m["version"] for m in every) == sorted([v1["modified"], v2["modified"], v3["modified"]])


def test_manifest_records(client, raw):
    a, b = indicator(), malware()
    post_ok(raw(US), COALITION, envelope(a, b))
    body = client(US).collection(COALITION).get_manifest(id=[a["id"], b["id"]])
    records = {m["id"]: m for m in objects_of(body)}
    assert set(records) == {a["id"], b["id"]}
    for obj in (a, b):
        rec = records[obj["id"]]
        assert rec["version"] == obj["modified"]
        assert rec["media_type"].replace(" ", "") == STIX
        assert isinstance(rec["date_added"], str) and rec["date_added"].endswith("Z")


def test_match_type_and_id(client, raw):
    a, b, c = indicator(), indicator(), malware()
    post_ok(raw(US), COALITION, envelope(a, b, c))
    coll = client(US).collection(COALITION)
    ids = [a["id"], b["id"], c["id"]]
    assert sorted(ids_of(coll.get_objects(id=ids))) == sorted(ids)
    assert sorted(ids_of(coll.get_objects(id=ids, type="indicator"))) == sorted([a["id"], b["id"]])
    assert ids_of(coll.get_objects(id=ids, type="malware")) == [c["id"]]
    assert sorted(ids_of(coll.get_objects(id=ids, type="indicator,malware"))) == sorted(ids)
    assert ids_of(coll.get_objects(id=ids, type="campaign")) == []
    assert ids_of(coll.get_objects(id=a["id"])) == [a["id"]]
    assert ids_of(coll.get_objects(id=[a["id"], c["id"]], type="indicator")) == [a["id"]]
    assert ids_of(coll.get_objects(id="indicator--%s" % uuid.uuid4())) == []
    # Manifest takes the same filters.
    assert ids_of(coll.get_manifest(id=ids, type="malware")) == [c["id"]]


def test_match_spec_version(client, raw):
    a = indicator()
    post_ok(raw(US), COALITION, envelope(a))
    coll = client(US).collection(COALITION)
    assert ids_of(coll.get_objects(id=a["id"], spec_version="2.1")) == [a["id"]]
    assert ids_of(coll.get_objects(id=a["id"], spec_version="2.0")) == []
    assert ids_of(coll.get_objects(id=a["id"], spec_version="2.0,2.1")) == [a["id"]]
    assert ids_of(coll.get_manifest(id=a["id"], spec_version="2.1")) == [a["id"]]
    assert ids_of(coll.get_manifest(id=a["id"], spec_version="2.0")) == []
    assert ids_of(coll.get_object(a["id"], spec_version="2.1")) == [a["id"]]


def _ts(value):
    """A TAXII timestamp as a comparable datetime (any sub-second precision)."""
    head, _, frac = value.rstrip("Z").partition(".")
    t = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    return t + dt.timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


def _date_added(coll, obj_id):
    records = objects_of(coll.get_manifest(id=obj_id))
    assert len(records) == 1
    return records[0]["date_added"]


def test_added_after(client, raw):
    coll = client(US).collection(COALITION)
    a = indicator()
    post_ok(raw(US), COALITION, envelope(a))
    time.sleep(0.05)
    b = indicator()
    post_ok(raw(US), COALITION, envelope(b))
    da, db = _date_added(coll, a["id"]), _date_added(coll, b["id"])
    assert _ts(da) < _ts(db)
    ids = [a["id"], b["id"]]
    assert ids_of(coll.get_objects(id=ids, added_after=da)) == [b["id"]]
    assert ids_of(coll.get_objects(id=ids, added_after=db)) == []
    assert sorted(ids_of(coll.get_objects(id=ids, added_after="2000-01-01T00:00:00Z"))) == sorted(ids)
    assert ids_of(coll.get_manifest(id=ids, added_after=da)) == [b["id"]]
    # Combined with another filter.
    assert ids_of(coll.get_objects(id=ids, added_after=da, type="malware")) == []


def test_sorted_by_date_added_and_headers(client, raw):
    coll = client(US).collection(COALITION)
    posted = []
    for _ in range(3):
        obj = indicator()
        post_ok(raw(US), COALITION, envelope(obj))
        posted.append(obj["id"])
        time.sleep(0.02)
    # Ask in reverse order: results come back in date_added order all the same.
    resp = raw(US).get(Raw.objects(COALITION), params={"match[id]": ",".join(reversed(posted))})
    assert_taxii_response(resp)
    assert ids_of(resp.json()) == posted
    added = [_date_added(coll, i) for i in posted]
    assert resp.headers["X-TAXII-Date-Added-First"] == added[0]
    assert resp.headers["X-TAXII-Date-Added-Last"] == added[-1]
    resp = raw(US).get(Raw.manifest(COALITION), params={"match[id]": ",".join(reversed(posted))})
    assert_taxii_response(resp)
    assert ids_of(resp.json()) == posted
    assert resp.headers["X-TAXII-Date-Added-First"] == added[0]
    assert resp.headers["X-TAXII-Date-Added-Last"] == added[-1]
    # A page carries the dates of its own first and last object.
    resp = raw(US).get(Raw.objects(COALITION), params={"match[id]": ",".join(posted), "limit": 2})
    assert_taxii_response(resp)
    assert ids_of(resp.json()) == posted[:2]
    assert resp.headers["X-TAXII-Date-Added-First"] == added[0]
    assert resp.headers["X-TAXII-Date-Added-Last"] == added[1]


def test_delete_object(client, raw):
    coll = client(US).collection(COALITION)
    a, b = indicator(), indicator()
    post_ok(raw(US), COALITION, envelope(a, b))
    coll.delete_object(a["id"])
    assert_error(raw(US).get(Raw.objects(COALITION, a["id"])), 404)
    assert ids_of(coll.get_objects(id=[a["id"], b["id"]])) == [b["id"]]
    assert ids_of(coll.get_manifest(id=[a["id"], b["id"]])) == [b["id"]]
    # Deleting again: nothing there any more.
    assert_error(raw(US).delete(Raw.objects(COALITION, a["id"])), 404)


def test_delete_one_version(client, raw, three_versions):
    v1, v2, v3 = three_versions
    coll = client(US).collection(COALITION)
    resp = raw(US).delete(Raw.objects(COALITION, v1["id"]), params={"match[version]": v2["modified"]})
    assert resp.status_code == 200, resp.text
    assert set(coll.object_versions(v1["id"])["versions"]) == {v1["modified"], v3["modified"]}
    assert objects_of(coll.get_object(v1["id"])) == [v3]


@pytest.mark.medallion_deviation("medallion deletes only the latest version when no match[version] is given")
def test_delete_without_version_removes_every_version(client, raw, three_versions):
    v1, _, _ = three_versions
    resp = raw(US).delete(Raw.objects(COALITION, v1["id"]))
    assert resp.status_code == 200, resp.text
    assert_error(raw(US).get(Raw.objects(COALITION, v1["id"])), 404)
    assert_error(raw(US).get(Raw.versions(COALITION, v1["id"])), 404)


def test_delete_unknown_object_is_404(raw):
    assert_error(raw(US).delete(Raw.objects(COALITION, "indicator--%s" % uuid.uuid4())), 404)


def test_post_to_read_only_collection_is_403(raw):
    """iq-analyst may read "US products" but not write it."""
    resp = raw("iq-analyst").post(Raw.objects(US_PRODUCTS), envelope(indicator()))
    assert_error(resp, 403)


def test_taxii2_client_refuses_write_without_can_write(client):
    from taxii2client.exceptions import AccessError
    coll = client("iq-analyst").collection(US_PRODUCTS)
    with pytest.raises(AccessError):
        coll.add_objects(envelope(indicator()))


@pytest.mark.tearline
def test_us_products_writable_by_usa_only(client, raw):
    a = indicator()
    status = post_ok(raw(US), US_PRODUCTS, envelope(a))
    assert status["success_count"] == 1
    assert ids_of(client(US).collection(US_PRODUCTS).get_object(a["id"])) == [a["id"]]
    assert_error(raw("ru-analyst").post(Raw.objects(US_PRODUCTS), envelope(indicator())), 403)
    assert_error(raw("sy-analyst").post(Raw.objects(COALITION), envelope(indicator())), 403)


@pytest.mark.tearline
def test_delete_permissions(raw):
    """Tearline's reading of "delete" permission (TAXII 2.1 leaves it to the server): only users of
    the object's originating party delete it. A caller who cannot see the object gets the 404 of a
    missing one; a caller who sees it but is not of the originating party gets 403."""
    a = indicator()  # unmarked: USA's agreement releases it to IRQ; the embargo keeps it from RUS
    post_ok(raw(US), COALITION, envelope(a))
    hidden = raw("ru-analyst").delete(Raw.objects(COALITION, a["id"]))
    missing_id = "indicator--%s" % uuid.uuid4()
    missing = raw("ru-analyst").delete(Raw.objects(COALITION, missing_id))
    assert_error(hidden, 404)
    assert_error(missing, 404)
    assert hidden.content.replace(a["id"].encode(), b"X") == missing.content.replace(missing_id.encode(), b"X")
    assert_taxii_response(raw("iq-analyst").get(Raw.objects(COALITION, a["id"])))
    assert_error(raw("iq-analyst").delete(Raw.objects(COALITION, a["id"])), 403)
    # Still there for its originator, who may delete it.
    assert_taxii_response(raw(US).get(Raw.objects(COALITION, a["id"])))
    assert raw(US).delete(Raw.objects(COALITION, a["id"])).status_code == 200
