"""Helpers of the TAXII conformance tests: constants, HTTP sessions, STIX builders, assertions."""

import base64
import datetime as dt
import json
import os
import uuid

import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Collection, Server

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"

COALITION = "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01"  # "Coalition indicators": writers USA, IRQ, RUS
US_PRODUCTS = "6e0a4b8c-1f2d-4e3a-8b5c-9d7e2f1a0c02"  # "US products": writers USA only

TEARLINE_MARKING_EXT = "extension-definition--a3c20081-d93f-4415-8b00-9b1fd0614588"
ACS_MARKING_EXT = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce"  # DHS ISA/ACS 3.0
TLP2_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

TARGET = os.environ.get("TEARLINE_TARGET", "tearline")


# --- STIX validation of everything read ---------------------------------------------------------

class Validation:
    """Collects stix2-validator errors for every STIX object seen in a response."""

    options = ValidationOptions(version="2.1")

    def __init__(self):
        self.errors = []
        self.checked = 0

    def check_object(self, obj, where):
        result = validate_instance(obj, self.options)
        self.checked += 1
        if not result.is_valid:
            self.errors.append("%s: %s: %s" % (where, obj.get("id"), [str(e) for e in result.errors]))

    def check_body(self, body, where):
        if not isinstance(body, dict):
            return
        objects = body.get("objects")
        if not isinstance(objects, list):
            return
        for obj in objects:
            # Manifest records and status details have no `type`: only STIX objects are validated.
            if isinstance(obj, dict) and "type" in obj and "id" in obj:
                self.check_object(obj, where)

    def hook(self, response, *args, **kwargs):
        ctype = response.headers.get("Content-Type", "")
        if response.status_code == 200 and "json" in ctype:
            try:
                body = response.json()
            except ValueError:
                return response
            self.check_body(body, "%s %s" % (response.request.method, response.request.url))
        return response


VALIDATION = Validation()


def _hooked(session):
    session.hooks.setdefault("response", []).append(VALIDATION.hook)
    return session


# --- raw HTTP -----------------------------------------------------------------------------------

class Raw:
    """A `requests` session for one user (HTTP Basic with the token as password by default, what
    taxii2-client sends), with the TAXII Accept header, paths relative to the server's root."""

    def __init__(self, base_url, user=None, token=None, bearer=False):
        self.base_url = base_url
        self.session = _hooked(requests.Session())
        self.session.headers["Accept"] = TAXII
        if token is not None:
            if bearer:
                self.session.headers["Authorization"] = "Bearer " + token
            else:
                self.session.auth = (user, token)

    def url(self, path):
        return path if path.startswith("http") else self.base_url + path

    def get(self, path, params=None, headers=None):
        return self.session.get(self.url(path), params=params, headers=headers)

    def post(self, path, body=None, data=None, headers=None):
        hdrs = {"Content-Type": TAXII}
        hdrs.update(headers or {})
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        return self.session.post(self.url(path), data=data, headers=hdrs)

    def delete(self, path, params=None, headers=None):
        return self.session.delete(self.url(path), params=params, headers=headers)

    # Paths of the API root's endpoints.
    @staticmethod
    def objects(collection, obj_id=None):
        path = "/api/collections/%s/objects/" % collection
        return path + ("%s/" % obj_id if obj_id else "")

    @staticmethod
    def versions(collection, obj_id):
        return "/api/collections/%s/objects/%s/versions/" % (collection, obj_id)

    @staticmethod
    def manifest(collection):
        return "/api/collections/%s/manifest/" % collection

    @staticmethod
    def status(status_id):
        return "/api/status/%s/" % status_id


# --- taxii2-client ------------------------------------------------------------------------------

class Client:
    """taxii2-client objects for one user, sharing one connection (user = name, password = token)."""

    def __init__(self, discovery_url, api_url, user, token):
        self.user = user
        self.server = Server(discovery_url, user=user, password=token)
        _hooked(self.server._conn.session)
        self.api_root = ApiRoot(api_url, conn=self.server._conn)
        self.api_url = api_url

    def collection(self, collection_id):
        return Collection(self.api_url + "collections/%s/" % collection_id, conn=self.server._conn)

    def collection_by_title(self, title):
        for c in self.api_root.collections:
            if c.title == title:
                return c
        return None


# --- STIX content -------------------------------------------------------------------------------

def now_ts(offset_seconds=0.0):
    """A STIX timestamp (millisecond precision, UTC)."""
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def new_id(stix_type):
    return "%s--%s" % (stix_type, uuid.uuid4())


def indicator(name=None, ts=None, obj_id=None, **extra):
    ts = ts or now_ts()
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": obj_id or new_id("indicator"),
        "created": ts,
        "modified": ts,
        "name": name or "Indicator %s" % uuid.uuid4().hex[:8],
        "description": "Test indicator",
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (uuid.uuid4().int % 250 + 1),
        "pattern_type": "stix",
        "valid_from": ts,
    }
    obj.update(extra)
    return obj


def new_version(obj, ts):
    """The same object with a later `modified` (a new version)."""
    v = dict(obj)
    v["modified"] = ts
    v["description"] = "Version of %s" % ts
    return v


def malware(name=None, ts=None, **extra):
    ts = ts or now_ts()
    obj = {
        "type": "malware",
        "spec_version": "2.1",
        "id": new_id("malware"),
        "created": ts,
        "modified": ts,
        "name": name or "Malware %s" % uuid.uuid4().hex[:8],
        "description": "Test malware",
        "malware_types": ["remote-access-trojan"],
        "is_family": True,
    }
    obj.update(extra)
    return obj


def relationship(source, target, rel="indicates", ts=None, **extra):
    ts = ts or now_ts()
    obj = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": new_id("relationship"),
        "created": ts,
        "modified": ts,
        "relationship_type": rel,
        "source_ref": source,
        "target_ref": target,
    }
    obj.update(extra)
    return obj


def report(object_refs, ts=None, **extra):
    ts = ts or now_ts()
    obj = {
        "type": "report",
        "spec_version": "2.1",
        "id": new_id("report"),
        "created": ts,
        "modified": ts,
        "name": "Report %s" % uuid.uuid4().hex[:8],
        "description": "Test report",
        "report_types": ["threat-report"],
        "published": ts,
        "object_refs": list(object_refs),
    }
    obj.update(extra)
    return obj


def tearline_marking(classification, rel_to=None, caveats=None, originator="USA", ts=None):
    """A marking-definition carrying Tearline's classification/releasability extension.
    `caveats` is omitted when empty (stix2-validator rejects empty lists)."""
    ext = {"extension_type": "property-extension", "originator": originator,
           "classification": classification}
    if caveats:
        ext["caveats"] = list(caveats)
    if rel_to:
        ext["rel_to"] = list(rel_to)
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": new_id("marking-definition"),
        "created": ts or now_ts(),
        "extensions": {TEARLINE_MARKING_EXT: ext},
    }


def envelope(*objects):
    return {"objects": list(objects)}


def objects_of(body):
    """The objects of an envelope (TAXII 2.1 allows an empty envelope without `objects`)."""
    return body.get("objects", []) if isinstance(body, dict) else []


def ids_of(body_or_list):
    items = body_or_list if isinstance(body_or_list, list) else objects_of(body_or_list)
    return [o["id"] for o in items]


def assert_taxii_response(resp, status=200):
    """Status code and TAXII media type of a response."""
    assert resp.status_code == status, "%s %s -> %s %s" % (
        resp.request.method, resp.request.url, resp.status_code, resp.text[:500])
    ctype = resp.headers.get("Content-Type", "").replace(" ", "").lower()
    assert ctype.startswith("application/taxii+json"), ctype
    assert "version=2.1" in ctype, ctype


def assert_error(resp, status):
    """An error response: the status, and a body that is a TAXII 2.1 error message (section 3.6.1):
    `title` required; `description`, `error_id`, `error_code`, `http_status`, `external_details`
    strings and `details` a dictionary when present."""
    assert resp.status_code == status, "%s %s -> %s (expected %s) %s" % (
        resp.request.method, resp.request.url, resp.status_code, status, resp.text[:500])
    ctype = resp.headers.get("Content-Type", "").replace(" ", "").lower()
    assert ctype.startswith("application/taxii+json") and "version=2.1" in ctype, ctype
    body = resp.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("title"), str) and body["title"], body
    for key in ("description", "error_id", "error_code", "http_status", "external_details"):
        if key in body:
            assert isinstance(body[key], str), (key, body)
    if "details" in body:
        assert isinstance(body["details"], dict), body
    if "http_status" in body:
        assert body["http_status"] == str(status), body
    return body


def post_ok(raw_session, collection, env):
    """POST an envelope, expecting 202 and a status; returns the status resource."""
    resp = raw_session.post(Raw.objects(collection), env)
    assert_taxii_response(resp, 202)
    return resp.json()


def basic_header(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
