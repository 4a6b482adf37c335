"""The validator the suite relies on: stix2-validator with its schemas, hooked on every response."""

from stix2validator import ValidationOptions, validate_instance

from helpers import COALITION, VALIDATION, Validation, envelope, indicator, post_ok


def test_validator_has_its_schemas():
    """stix2-validator 3.2.0 is pinned because later releases here ship without their schemas:
    without them it would pass anything. It must reject an indicator without a pattern."""
    good = indicator()
    bad = indicator()
    del bad["pattern"]
    options = ValidationOptions(version="2.1")
    assert validate_instance(good, options).is_valid
    result = validate_instance(bad, options)
    assert not result.is_valid
    assert any("pattern" in str(e) for e in result.errors)


def test_every_response_is_validated(raw, client):
    a = indicator()
    post_ok(raw("us-analyst"), COALITION, envelope(a))
    before = VALIDATION.checked
    client("us-analyst").collection(COALITION).get_objects(id=a["id"])
    raw("us-analyst").get("/api/collections/%s/objects/%s/" % (COALITION, a["id"]))
    assert VALIDATION.checked >= before + 2


def test_invalid_object_in_a_body_is_reported():
    v = Validation()
    bad = indicator()
    bad["created"] = "not a time"
    v.check_body({"objects": [bad]}, "test")
    assert len(v.errors) == 1 and bad["id"] in v.errors[0]
