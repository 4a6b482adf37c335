//! Granular-marking selectors (STIX 2.1 section 7.2.3): `description`, `labels.[1]`,
//! `kill_chain_phases.[0].phase_name`.

use serde_json::Value;

/// One step of a selector: a property name or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A parsed selector: a non-empty path starting with a property name.
pub(crate) type Path = Vec<Step>;

/// Reads a selector; the error says what is wrong with it.
pub(crate) fn parse(selector: &str) -> Result<Path, String> {
    let mut path = Vec::new();
    for segment in selector.split('.') {
        if segment.is_empty() {
            return Err("has an empty step".into());
        }
        if let Some(inner) = segment.strip_prefix('[') {
            let digits = inner.strip_suffix(']').ok_or_else(|| format!("`{segment}` is not a list index `[n]`"))?;
            // One spelling per index, so that a rewritten selector is comparable with its input.
            let canonical = !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'));
            let index = digits.parse::<usize>().ok().filter(|_| canonical);
            let index = index.ok_or_else(|| format!("`{segment}` is not a list index `[n]`"))?;
            if path.is_empty() {
                return Err("starts with a list index instead of a property name".into());
            }
            path.push(Step::Index(index));
        } else if segment.contains(['[', ']']) {
            return Err(format!("`{segment}` mixes a property name with brackets"));
        } else {
            path.push(Step::Key(segment.to_string()));
        }
    }
    Ok(path)
}

/// The selector text of a path.
pub(crate) fn format(path: &[Step]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Key(key) => key.clone(),
            Step::Index(index) => format!("[{index}]"),
        })
        .collect();
    parts.join(".")
}

/// The value a path points at, if present.
pub(crate) fn resolve<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |current, step| match (step, current) {
        (Step::Key(key), Value::Object(fields)) => fields.get(key),
        (Step::Index(index), Value::Array(items)) => items.get(*index),
        _ => None,
    })
}

/// Whether `ancestor` is `path` or one of its ancestors (`a` of `a.[0].b`; `description` of
/// nothing but itself).
pub(crate) fn is_ancestor_or_self(ancestor: &[Step], path: &[Step]) -> bool {
    path.starts_with(ancestor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_read_and_print_back() {
        for text in ["description", "labels.[1]", "kill_chain_phases.[0].phase_name", "extensions.x-y--1.a.[10]"] {
            assert_eq!(format(&parse(text).unwrap()), text);
        }
        for bad in ["", "a..b", "[0]", "a.[01]", "a.[x]", "a.[1", "a[0]", "a.[-1]"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ancestors_go_by_steps_not_by_text() {
        let a = parse("a").unwrap();
        assert!(is_ancestor_or_self(&a, &parse("a.[0].b").unwrap()));
        assert!(is_ancestor_or_self(&a, &a));
        assert!(!is_ancestor_or_self(&parse("description").unwrap(), &parse("descriptions").unwrap()));
        assert!(!is_ancestor_or_self(&parse("a.[0]").unwrap(), &a));
    }
}
