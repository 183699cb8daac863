//! Property tests: random element trees round-trip through WBXML in every
//! version, and random or mutated bytes never make the decoder panic
//! (whatever decodes re-encodes and decodes to the same tree).
//!
//! Case counts are kept to a few thousand so the normal test run stays
//! fast; the cargo-fuzz target in `fuzz/` covers the same ground for hours.

use crate::wbxml_common;

use std::sync::LazyLock;

use imps_wire::wbxml::{decode, encode};
use imps_wire::{Attr, Element, Limits, Version};
use proptest::prelude::*;
use wbxml_common::{documents, table_names};

/// Every tag name of every table (libwbxml spellings included: they are
/// LITERALs to us), plus unknown and vendor names.
static TAG_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut v: Vec<String> = ["csp11-tags.tsv", "csp12-tags.tsv", "csp13-tags.tsv"]
        .iter()
        .flat_map(|f| table_names(f))
        .chain(
            [
                "Foo",
                "ColibriaExtensions",
                "x:vendor",
                "",
                "UnknownTag-05-3F",
            ]
            .map(String::from),
        )
        .collect();
    v.sort();
    v.dedup();
    v
});

static VALUE_STRINGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut v: Vec<String> = [
        "csp11-ext-values.tsv",
        "csp12-ext-values.tsv",
        "csp13-ext-values.tsv",
    ]
    .iter()
    .flat_map(|f| table_names(f))
    .collect();
    v.sort();
    v.dedup();
    v
});

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(TAG_NAMES.clone())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        3 => prop::sample::select(VALUE_STRINGS.clone()),
        2 => any::<u32>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "0[0-9]{0,4}",
        1 => "[ \t\r\n]{0,3}[0-9]{1,3}[ \t\r\n]{0,3}",
        1 => "[0-9]{8}T[0-9]{6}Z?",
        3 => any::<String>(),
    ]
}

fn attr_value() -> impl Strategy<Value = String> {
    let namespaces: Vec<String> = Version::ALL
        .iter()
        .flat_map(|v| [v.csp_ns(), v.trc_ns(), v.pa_ns()])
        .map(String::from)
        .chain(["http://www.wireless-village.org/CSP".to_string()])
        .collect();
    prop_oneof![prop::sample::select(namespaces), any::<String>()]
}

fn attrs() -> impl Strategy<Value = Vec<Attr>> {
    let attr_name = prop::sample::select(vec!["xmlns", "xmlns:xsi", "id", "x"]);
    prop::collection::vec(
        (attr_name, attr_value()).prop_map(|(name, value)| Attr {
            name: name.into(),
            value,
        }),
        0..3,
    )
}

pub(crate) fn tree() -> impl Strategy<Value = Element> {
    let leaf = (name(), attrs(), text()).prop_map(|(name, attrs, text)| Element {
        name: name.into(),
        attrs,
        text,
        children: Vec::new(),
    });
    leaf.prop_recursive(6, 64, 6, |inner| {
        (name(), attrs(), text(), prop::collection::vec(inner, 0..6)).prop_map(
            |(name, attrs, text, children)| Element {
                name: name.into(),
                attrs,
                text,
                children,
            },
        )
    })
}

fn version() -> impl Strategy<Value = Version> {
    prop::sample::select(Version::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_trees_round_trip(mut root in tree(), v in version(), root_ns in any::<bool>()) {
        // The root's namespace picks the decode table on a clash, so it
        // must agree with the target version (as Message guarantees).
        root.attrs.retain(|a| a.name != "xmlns");
        if root_ns {
            root.attrs.insert(0, Attr { name: "xmlns".into(), value: v.csp_ns().into() });
        }
        let bytes = encode(&root, v).expect("encode");
        let doc = decode(&bytes, &Limits::default()).expect("decode");
        prop_assert_eq!(doc.version, Some(v));
        prop_assert_eq!(doc.root, root);
    }
}

/// Decoding arbitrary bytes must return, not panic; anything accepted must
/// survive encode -> decode unchanged, under the same limits unless our
/// encoding is longer than the input (it may be: we write inline what the
/// input took from the string table).
fn check_decode(bytes: &[u8]) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    if let Ok(doc) = decode(bytes, &limits) {
        let v = doc
            .root
            .xmlns()
            .and_then(Version::from_namespace)
            .or(doc.version)
            .unwrap_or(Version::V1_3);
        let again =
            encode(&doc.root, v).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
        let relimits = Limits {
            max_size: limits.max_size.max(again.len()),
            ..limits
        };
        let back = decode(&again, &relimits)
            .map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
        prop_assert_eq!(back.root, doc.root);
    }
    Ok(())
}

/// Valid documents to mutate.
static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    Version::ALL
        .iter()
        .flat_map(|&v| {
            documents(v)
                .into_iter()
                .map(move |(_, m)| encode(&m.to_element(), v).expect("encode"))
        })
        .collect()
});

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_decode(&bytes)?;
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        pid in prop::sample::select(vec![0x10u8, 0x11, 0x12]),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![0x03, pid, 0x6A, 0x00];
        bytes.extend(body);
        check_decode(&bytes)?;
    }

    #[test]
    fn mutated_documents_never_panic(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = SEEDS[seed].clone();
        for m in mutations {
            let n = bytes.len().max(1);
            match m {
                Mutation::Set(i, b) => { if let Some(x) = bytes.get_mut(i % n) { *x = b; } }
                Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
                Mutation::Remove(i) => { if !bytes.is_empty() { bytes.remove(i % n); } }
                Mutation::Truncate(i) => bytes.truncate(i % n),
            }
        }
        check_decode(&bytes)?;
    }
}
