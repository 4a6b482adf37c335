//! What STIX 2.1 requires of each object type it defines: the common properties by kind of object,
//! and the type-specific required properties (STIX 2.1 sections 4 to 7 and the OASIS JSON schemas).

/// The JSON shape a property must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Bool,
    Int,
    /// A non-empty list.
    List,
    Dict,
    Time,
    /// Anything (shape checked elsewhere, e.g. `*_ref` properties).
    Any,
}

/// The kind of object, which decides the common properties it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// SDOs, SROs, language-content and extension-definition: `spec_version`, `created`, `modified`.
    Versioned,
    /// `spec_version` and `created`, never modified (marking-definition).
    MarkingDefinition,
    /// Cyber-observables: only `type` and `id`.
    Observable,
}

pub(crate) struct TypeSpec {
    pub(crate) name: &'static str,
    pub(crate) class: Class,
    pub(crate) required: &'static [(&'static str, Kind)],
    /// Each inner list is a set of properties that together satisfy the requirement; at least one
    /// set must be present in full.
    pub(crate) any_of: &'static [&'static [&'static str]],
}

const fn versioned(name: &'static str, required: &'static [(&'static str, Kind)]) -> TypeSpec {
    TypeSpec { name, class: Class::Versioned, required, any_of: &[] }
}

const fn observable(name: &'static str, required: &'static [(&'static str, Kind)]) -> TypeSpec {
    TypeSpec { name, class: Class::Observable, required, any_of: &[] }
}

const NAME: &[(&str, Kind)] = &[("name", Kind::Str)];
const VALUE: &[(&str, Kind)] = &[("value", Kind::Str)];

pub(crate) const TYPES: &[TypeSpec] = &[
    // STIX Domain Objects (section 4).
    versioned("attack-pattern", NAME),
    versioned("campaign", NAME),
    versioned("course-of-action", NAME),
    versioned("grouping", &[("context", Kind::Str), ("object_refs", Kind::List)]),
    versioned("identity", NAME),
    versioned("incident", NAME),
    versioned("indicator", &[("pattern", Kind::Str), ("pattern_type", Kind::Str), ("valid_from", Kind::Time)]),
    versioned("infrastructure", NAME),
    versioned("intrusion-set", NAME),
    TypeSpec {
        name: "location",
        class: Class::Versioned,
        required: &[],
        any_of: &[&["region"], &["country"], &["latitude", "longitude"]],
    },
    versioned("malware", &[("is_family", Kind::Bool)]),
    TypeSpec {
        name: "malware-analysis",
        class: Class::Versioned,
        required: &[("product", Kind::Str)],
        any_of: &[&["result"], &["analysis_sco_refs"]],
    },
    versioned("note", &[("content", Kind::Str), ("object_refs", Kind::List)]),
    TypeSpec {
        name: "observed-data",
        class: Class::Versioned,
        required: &[("first_observed", Kind::Time), ("last_observed", Kind::Time), ("number_observed", Kind::Int)],
        any_of: &[&["object_refs"], &["objects"]],
    },
    versioned("opinion", &[("opinion", Kind::Str), ("object_refs", Kind::List)]),
    versioned("report", &[("name", Kind::Str), ("published", Kind::Time), ("object_refs", Kind::List)]),
    versioned("threat-actor", NAME),
    versioned("tool", NAME),
    versioned("vulnerability", NAME),
    // STIX Relationship Objects (section 5).
    versioned(
        "relationship",
        &[("relationship_type", Kind::Str), ("source_ref", Kind::Any), ("target_ref", Kind::Any)],
    ),
    versioned("sighting", &[("sighting_of_ref", Kind::Any)]),
    // Meta objects (section 7).
    TypeSpec {
        name: "marking-definition",
        class: Class::MarkingDefinition,
        required: &[],
        any_of: &[&["definition_type", "definition"], &["extensions"]],
    },
    versioned("language-content", &[("object_ref", Kind::Any), ("contents", Kind::Dict)]),
    versioned(
        "extension-definition",
        &[
            ("created_by_ref", Kind::Any),
            ("name", Kind::Str),
            ("schema", Kind::Str),
            ("version", Kind::Str),
            ("extension_types", Kind::List),
        ],
    ),
    // STIX Cyber-observable Objects (section 6).
    TypeSpec { name: "artifact", class: Class::Observable, required: &[], any_of: &[&["payload_bin"], &["url"]] },
    observable("autonomous-system", &[("number", Kind::Int)]),
    observable("directory", &[("path", Kind::Str)]),
    observable("domain-name", VALUE),
    observable("email-addr", VALUE),
    observable("email-message", &[("is_multipart", Kind::Bool)]),
    TypeSpec { name: "file", class: Class::Observable, required: &[], any_of: &[&["hashes"], &["name"]] },
    observable("ipv4-addr", VALUE),
    observable("ipv6-addr", VALUE),
    observable("mac-addr", VALUE),
    observable("mutex", NAME),
    TypeSpec {
        name: "network-traffic",
        class: Class::Observable,
        required: &[("protocols", Kind::List)],
        any_of: &[&["src_ref"], &["dst_ref"]],
    },
    observable("process", &[]),
    observable("software", NAME),
    observable("url", VALUE),
    observable("user-account", &[]),
    observable("windows-registry-key", &[]),
    observable("x509-certificate", &[]),
];

/// Known properties' shapes, checked wherever they appear at the top level of an object.
pub(crate) const KINDS: &[(&str, Kind)] = &[
    ("created", Kind::Time),
    ("modified", Kind::Time),
    ("published", Kind::Time),
    ("valid_from", Kind::Time),
    ("valid_until", Kind::Time),
    ("first_seen", Kind::Time),
    ("last_seen", Kind::Time),
    ("first_observed", Kind::Time),
    ("last_observed", Kind::Time),
    ("object_modified", Kind::Time),
    ("labels", Kind::List),
    ("external_references", Kind::List),
    ("kill_chain_phases", Kind::List),
    ("extensions", Kind::Dict),
    ("revoked", Kind::Bool),
    ("is_family", Kind::Bool),
    ("is_multipart", Kind::Bool),
    ("number_observed", Kind::Int),
    ("name", Kind::Str),
    ("description", Kind::Str),
];

pub(crate) fn lookup(object_type: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|spec| spec.name == object_type)
}
