//! CSP protocol versions and the names that differ between them.

use std::fmt;

/// A CSP protocol version. The version travels with every message so the
/// same model encodes to each version's namespaces and token tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1_1,
    V1_2,
    V1_3,
}

impl Version {
    pub const ALL: [Version; 3] = [Version::V1_1, Version::V1_2, Version::V1_3];

    /// Namespace of `WV-CSP-Message`.
    pub fn csp_ns(self) -> &'static str {
        match self {
            Version::V1_1 => "http://www.wireless-village.org/CSP1.1",
            Version::V1_2 => "http://www.openmobilealliance.org/DTD/WV-CSP1.2",
            Version::V1_3 => "http://www.openmobilealliance.org/DTD/IMPS-CSP1.3",
        }
    }

    /// Namespace of `TransactionContent`.
    pub fn trc_ns(self) -> &'static str {
        match self {
            Version::V1_1 => "http://www.wireless-village.org/TRC1.1",
            Version::V1_2 => "http://www.openmobilealliance.org/DTD/WV-TRC1.2",
            Version::V1_3 => "http://www.openmobilealliance.org/DTD/IMPS-TRC1.3",
        }
    }

    /// Namespace of `PresenceSubList`.
    pub fn pa_ns(self) -> &'static str {
        match self {
            Version::V1_1 => "http://www.wireless-village.org/PA1.1",
            Version::V1_2 => "http://www.openmobilealliance.org/DTD/WV-PA1.2",
            Version::V1_3 => "http://www.openmobilealliance.org/DTD/IMPS-PA1.3",
        }
    }

    /// WBXML public identifier.
    pub fn wbxml_public_id(self) -> u32 {
        match self {
            Version::V1_1 => 0x10,
            Version::V1_2 => 0x11,
            Version::V1_3 => 0x12,
        }
    }

    pub fn from_wbxml_public_id(id: u32) -> Option<Version> {
        match id {
            0x10 => Some(Version::V1_1),
            0x11 => Some(Version::V1_2),
            0x12 => Some(Version::V1_3),
            _ => None,
        }
    }

    /// The formal public identifier (used when a document names its DTD by
    /// string instead of by number, as libwbxml does for 1.2).
    pub fn fpi(self) -> &'static str {
        match self {
            Version::V1_1 => "-//WIRELESSVILLAGE//DTD CSP 1.1//EN",
            Version::V1_2 => "-//OMA//DTD WV-CSP 1.2//EN",
            Version::V1_3 => "-//OMA//DTD IMPS-CSP 1.3//EN",
        }
    }

    /// Recognises every FPI spelling seen in the field for a version.
    pub fn from_fpi(fpi: &str) -> Option<Version> {
        let f = fpi.trim().to_ascii_uppercase();
        if !f.contains("CSP") {
            return None;
        }
        if f.contains("1.1") {
            Some(Version::V1_1)
        } else if f.contains("1.2") {
            Some(Version::V1_2)
        } else if f.contains("1.3") {
            Some(Version::V1_3)
        } else {
            None
        }
    }

    /// Finds the version from any of the CSP, TRC or PA namespaces.
    /// Comparison ignores case and a trailing slash.
    pub fn from_namespace(ns: &str) -> Option<Version> {
        let n = ns.trim().trim_end_matches('/');
        Version::ALL.into_iter().find(|v| {
            [v.csp_ns(), v.trc_ns(), v.pa_ns()]
                .iter()
                .any(|x| x.eq_ignore_ascii_case(n))
        })
    }

    /// `major.minor`, as written in CIR lines (`WVCI 1.2 cookie`).
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        match s.trim() {
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            "1.3" => Some(Version::V1_3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
