//! The element tree every CSP document is read into.
//!
//! CSP has no mixed content: an element holds text or child elements. We
//! keep elements by local name (prefixes are dropped, as real clients match
//! on local names) and keep unknown and vendor elements, so a message
//! round-trips even when we do not understand all of it.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

/// An element or attribute name. Names the CSP token tables know (every
/// element of CSP 1.1-1.3, and `xmlns`) point at those static strings, so
/// decoding a document allocates nothing for them; any other name (vendor
/// extensions, `UnknownTag-PP-TT`) is owned. It reads like a `&str`:
/// `as_str()`, deref, comparison with `str`/`String`, `Display`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Cow<'static, str>);

impl Name {
    /// A name borrowed from a static string (no lookup, no allocation).
    pub const fn from_static(name: &'static str) -> Name {
        Name(Cow::Borrowed(name))
    }

    /// The static copy when `name` is a known CSP name, else an owned copy.
    pub fn new(name: &str) -> Name {
        match crate::wbxml::known_name(name) {
            Some(s) => Name(Cow::Borrowed(s)),
            None => Name(Cow::Owned(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::new(name)
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Name {
        Name::new(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        Name(Cow::Owned(name))
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Name {
        name.clone()
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.into_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

/// One attribute. In CSP only `xmlns` is used in practice; others are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attr {
    pub name: Name,
    pub value: String,
}

/// A CSP element: a name, attributes, and either text or children.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<Attr>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn new(name: impl Into<Name>) -> Element {
        Element {
            name: name.into(),
            ..Element::default()
        }
    }

    /// A leaf element with text.
    pub fn text(name: impl Into<Name>, text: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            text: text.into(),
            ..Element::default()
        }
    }

    /// Builder: adds a child.
    pub fn with(mut self, child: Element) -> Element {
        self.children.push(child);
        self
    }

    /// Builder: adds a child when there is one.
    pub fn with_opt(mut self, child: Option<Element>) -> Element {
        if let Some(c) = child {
            self.children.push(c);
        }
        self
    }

    /// Builder: adds a leaf child with text.
    pub fn with_text(self, name: &str, text: impl Into<String>) -> Element {
        self.with(Element::text(name, text))
    }

    /// Builder: sets an attribute.
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Element {
        self.set_attr(name, value);
        self
    }

    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(a) = self.attrs.iter_mut().find(|a| a.name == name) {
            a.value = value;
        } else {
            self.attrs.push(Attr {
                name: Name::new(name),
                value,
            });
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    pub fn xmlns(&self) -> Option<&str> {
        self.attr("xmlns")
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.children.is_empty()
    }

    /// First child with this local name, in any position (clients do not
    /// keep DTD order).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of the first child with this name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Follows a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut cur = self;
        for n in names {
            cur = cur.child(n)?;
        }
        Some(cur)
    }

    /// A CSP boolean child (`T`/`F`, case-insensitive; also `true`/`false`).
    pub fn child_bool(&self, name: &str) -> Option<bool> {
        self.child_text(name).and_then(parse_bool)
    }

    /// A decimal integer child.
    pub fn child_u64(&self, name: &str) -> Option<u64> {
        self.child_text(name).and_then(|t| t.parse().ok())
    }

    /// Removes and returns the first child with this name.
    pub fn take_child(&mut self, name: &str) -> Option<Element> {
        let i = self.children.iter().position(|c| c.name == name)?;
        Some(self.children.remove(i))
    }

    /// Number of elements in this subtree, including itself.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(Element::count).sum::<usize>()
    }

    /// Depth of this subtree (a leaf is 1).
    pub fn depth(&self) -> usize {
        1 + self.children.iter().map(Element::depth).max().unwrap_or(0)
    }
}

/// Parses a CSP boolean.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "T" | "t" | "true" | "TRUE" | "True" => Some(true),
        "F" | "f" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Writes a CSP boolean.
pub fn bool_str(b: bool) -> &'static str {
    if b { "T" } else { "F" }
}
