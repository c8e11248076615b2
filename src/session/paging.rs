//! One page of a dict's entries, as DAP's `variables` `start`/`count` asks for it.
//!
//! Owns: the Python expression that makes a page of a plain `dict` (the one that ptvsd
//! then enumerates), and how the children ptvsd reports for that page are named back as
//! the dict's own (their `evaluateName`). Lists and tuples are paged as slices
//! (`stack::variables`); a dict has no slice, so its page is a new ordered mapping of
//! the entries `start..end` in the dict's own iteration order, which ptvsd enumerates as
//! it would the dict itself.
//!
//! Must not know: DAP messages, the session's state, the wire dialect.
//!
//! The page expression keeps the rules of everything run inside the debuggee
//! (`repairs`): it binds no names, changes nothing (it copies `start..end` of the
//! entries and iterates the dict once, as ptvsd's own expand does), and runs on every
//! supported Python (2.7–3.11): `collections` and `itertools` are already imported by
//! ptvsd's debugger on every supported release, so `__import__` only looks them up.
//! `OrderedDict` keeps the page in the dict's order on Pythons whose `dict` does not
//! (2.7, 3.5).

/// The Python expression for entries `start..end` of the dict `expression`, in its order.
pub fn dict_page_expression(expression: &str, start: i64, end: i64) -> String {
    format!(
        "__import__('collections').OrderedDict(__import__('itertools').islice(({expression}).items(), {start}, {end}))"
    )
}

/// ptvsd's expression for an entry that cannot be read back by its key (its key's repr is
/// not an expression): the `index`-th entry of an enumeration (`enum_child_locally`).
const BY_INDEX_PREFIX: &str = "next((v for i, (k, v) in enumerate(";
const BY_INDEX_MIDDLE: &str = ") if i == ";
const BY_INDEX_SUFFIX: &str = "))";

/// Whether a child of the page is one of its entries (`[key]`), not an attribute of the
/// page's mapping or ptvsd's synthetic `items()`/`viewitems()` view.
pub fn is_entry(name: &str) -> bool {
    name.starts_with('[')
}

/// The `evaluateName` of an entry of the dict `expression`, from what ptvsd reported for
/// the same entry of its page `page` (made by [`dict_page_expression`] from `start`):
/// what ptvsd itself gives when it expands the dict whole. `None` where ptvsd gave no
/// expression (protocol v2) or one of a shape it does not make.
pub fn dict_entry_expression(
    expression: &str,
    page: &str,
    start: i64,
    name: &str,
    reported: Option<&str>,
) -> Option<String> {
    let reported = reported?;
    if reported.strip_prefix(page) == Some(name) {
        return Some(format!("{expression}{name}"));
    }
    // `next((v for i, (k, v) in enumerate(PAGE.items()) if i == N))`
    let rest = reported.strip_prefix(BY_INDEX_PREFIX)?.strip_prefix(page)?;
    let (method, index) = rest.strip_suffix(BY_INDEX_SUFFIX)?.split_once(BY_INDEX_MIDDLE)?;
    if !matches!(method, ".items()" | ".viewitems()") {
        return None;
    }
    let absolute = index.parse::<i64>().ok()?.checked_add(start)?;
    Some(format!("{BY_INDEX_PREFIX}{expression}{method}{BY_INDEX_MIDDLE}{absolute}{BY_INDEX_SUFFIX}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_an_ordered_slice_of_the_items() {
        assert_eq!(
            dict_page_expression("d['x']", 100, 200),
            "__import__('collections').OrderedDict(__import__('itertools').islice((d['x']).items(), 100, 200))"
        );
    }

    #[test]
    fn an_entry_read_by_its_key_is_named_as_the_dicts_own() {
        let page = dict_page_expression("d", 100, 200);
        let reported = format!("{page}['k0150']");
        assert_eq!(dict_entry_expression("d", &page, 100, "['k0150']", Some(&reported)).as_deref(), Some("d['k0150']"));
    }

    #[test]
    fn an_entry_read_by_its_position_gets_its_position_in_the_dict() {
        let page = dict_page_expression("obj.table", 300, 400);
        for method in [".items()", ".viewitems()"] {
            let reported = format!("next((v for i, (k, v) in enumerate({page}{method}) if i == 7))");
            assert_eq!(
                dict_entry_expression("obj.table", &page, 300, "[<Key 3>]", Some(&reported)).as_deref(),
                Some(format!("next((v for i, (k, v) in enumerate(obj.table{method}) if i == 307))").as_str())
            );
        }
    }

    #[test]
    fn an_entry_without_or_with_an_unknown_expression_has_no_evaluate_name() {
        let page = dict_page_expression("d", 0, 10);
        assert_eq!(dict_entry_expression("d", &page, 0, "['a']", None), None);
        assert_eq!(dict_entry_expression("d", &page, 0, "['a']", Some("d['a']")), None);
        let odd = format!("next((v for i, (k, v) in enumerate({page}.keys()) if i == 1))");
        assert_eq!(dict_entry_expression("d", &page, 0, "['a']", Some(&odd)), None);
        let overflow = format!("next((v for i, (k, v) in enumerate({page}.items()) if i == {}))", i64::MAX);
        assert_eq!(dict_entry_expression("d", &page, 1, "['a']", Some(&overflow)), None);
    }

    #[test]
    fn only_entries_are_shown_from_a_page() {
        assert!(is_entry("['k']"));
        assert!(is_entry("[...]"));
        assert!(!is_entry("items()"));
        assert!(!is_entry("viewitems()"));
        assert!(!is_entry("_OrderedDict__root"));
    }
}
