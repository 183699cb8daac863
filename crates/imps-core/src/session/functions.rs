//! The CSP function tree (features, function groups, leaf codes), what
//! this server implements of it, and which primitive needs which code.

use imps_wire::{Element, PrimitiveKind, Version};

/// (feature, function group, code, first version).
const TREE: &[(&str, &str, &str, Version)] = &[
    ("FundamentalFeat", "ServiceFunc", "GETSPI", Version::V1_1),
    ("FundamentalFeat", "ServiceFunc", "GETMAP", Version::V1_3),
    ("FundamentalFeat", "ServiceFunc", "SGMNT", Version::V1_3),
    ("FundamentalFeat", "SearchFunc", "SRCH", Version::V1_1),
    ("FundamentalFeat", "SearchFunc", "STSRC", Version::V1_1),
    ("FundamentalFeat", "SearchFunc", "ADVSR", Version::V1_3),
    ("FundamentalFeat", "InviteFunc", "INVIT", Version::V1_1),
    ("FundamentalFeat", "InviteFunc", "CAINV", Version::V1_1),
    ("FundamentalFeat", "VerifyIDFunc", "VRID", Version::V1_2),
    ("PresenceFeat", "ContListFunc", "GCLI", Version::V1_1),
    ("PresenceFeat", "ContListFunc", "CCLI", Version::V1_1),
    ("PresenceFeat", "ContListFunc", "DCLI", Version::V1_1),
    ("PresenceFeat", "ContListFunc", "MCLS", Version::V1_1),
    ("PresenceFeat", "PresenceAuthFunc", "GETWL", Version::V1_1),
    ("PresenceFeat", "PresenceAuthFunc", "REACT", Version::V1_1),
    ("PresenceFeat", "PresenceAuthFunc", "CAAUT", Version::V1_1),
    ("PresenceFeat", "PresenceAuthFunc", "GETAUT", Version::V1_2),
    (
        "PresenceFeat",
        "PresenceDeliverFunc",
        "GETPR",
        Version::V1_1,
    ),
    (
        "PresenceFeat",
        "PresenceDeliverFunc",
        "UPDPR",
        Version::V1_1,
    ),
    ("PresenceFeat", "AttListFunc", "CALI", Version::V1_1),
    ("PresenceFeat", "AttListFunc", "DALI", Version::V1_1),
    ("PresenceFeat", "AttListFunc", "GALS", Version::V1_1),
    ("IMFeat", "IMSendFunc", "MDELIV", Version::V1_1),
    ("IMFeat", "IMSendFunc", "FWMSG", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "SETD", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "GETLM", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "GETM", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "REJCM", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "NOTIF", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "NEWM", Version::V1_1),
    ("IMFeat", "IMReceiveFunc", "OFFNOTIF", Version::V1_3),
    ("IMFeat", "IMAuthFunc", "GLBLU", Version::V1_1),
    ("IMFeat", "IMAuthFunc", "BLENT", Version::V1_1),
    ("GroupFeat", "GroupMgmtFunc", "CREAG", Version::V1_1),
    ("GroupFeat", "GroupMgmtFunc", "DELGR", Version::V1_1),
    ("GroupFeat", "GroupMgmtFunc", "GETGP", Version::V1_1),
    ("GroupFeat", "GroupMgmtFunc", "SETGP", Version::V1_1),
    ("GroupFeat", "GroupUseFunc", "SUBGCN", Version::V1_1),
    ("GroupFeat", "GroupUseFunc", "GRCHN", Version::V1_1),
    ("GroupFeat", "GroupUseFunc", "EXCON", Version::V1_3),
    ("GroupFeat", "GroupAuthFunc", "GETGM", Version::V1_1),
    ("GroupFeat", "GroupAuthFunc", "ADDGM", Version::V1_1),
    ("GroupFeat", "GroupAuthFunc", "RMVGM", Version::V1_1),
    ("GroupFeat", "GroupAuthFunc", "MBRAC", Version::V1_1),
    ("GroupFeat", "GroupAuthFunc", "REJEC", Version::V1_1),
    ("GroupFeat", "GroupAuthFunc", "GETJU", Version::V1_2),
];

/// Codes this server implements today. A code is added here in the same
/// change that makes its primitives work end to end.
const IMPLEMENTED: &[&str] = &[
    "GETSPI", // lists: contact lists, block/grant lists, segmentation
    "GCLI", "CCLI", "DCLI", "MCLS", "GLBLU", "BLENT", "SGMNT",
    // presence: deliver, authorization, attribute lists
    "GETPR", "UPDPR", "GETWL", "REACT", "CAAUT", "GETAUT", "CALI", "DALI", "GALS",
    // groups and invitations
    "INVIT", "CAINV", "CREAG", "DELGR", "GETGP", "SETGP", "SUBGCN", "GRCHN", "GETGM", "ADDGM",
    "RMVGM", "MBRAC", "REJEC", "GETJU", "EXCON", // instant messaging
    "MDELIV", "FWMSG", "SETD", "GETLM", "GETM", "REJCM", "NOTIF", "NEWM", "OFFNOTIF",
    // maps (unless the map settings switch GETMAP off)
    "GETMAP", // search (issue 16)
    "SRCH", "STSRC", "ADVSR",
];

/// Whether `name` names a feature, function group or function code of
/// the tree (any case), as the `disabled` and `withhold` settings do.
pub fn is_function_name(name: &str) -> bool {
    TREE.iter()
        .any(|(f, g, c, _)| [f, g, c].iter().any(|x| x.eq_ignore_ascii_case(name)))
}

/// Whether the server implements a function code.
pub fn is_implemented(code: &str) -> bool {
    IMPLEMENTED.contains(&code)
}

/// The function code a primitive needs, for the primitives that are
/// gated by service negotiation. Session management is always allowed.
pub fn function_for(kind: PrimitiveKind) -> Option<&'static str> {
    use PrimitiveKind as P;
    Some(match kind {
        P::GetSPInfoRequest => "GETSPI",
        P::GetMapRequest => "GETMAP",
        P::GetSegmentRequest | P::DropSegmentRequest => "SGMNT",
        P::SearchRequest => "SRCH",
        P::StopSearchRequest => "STSRC",
        P::InviteRequest | P::InviteUserResponse => "INVIT",
        P::CancelInviteRequest => "CAINV",
        P::VerifyIdRequest => "VRID",
        P::GetListRequest => "GCLI",
        P::CreateListRequest => "CCLI",
        P::DeleteListRequest => "DCLI",
        P::ListManageRequest => "MCLS",
        P::GetWatcherListRequest => "GETWL",
        P::PresenceAuthUser => "REACT",
        P::CancelAuthRequest => "CAAUT",
        P::GetReactiveAuthStatusRequest => "GETAUT",
        P::GetPresenceRequest | P::SubscribePresenceRequest | P::UnsubscribePresenceRequest => {
            "GETPR"
        }
        P::UpdatePresenceRequest => "UPDPR",
        P::CreateAttributeListRequest => "CALI",
        P::DeleteAttributeListRequest => "DALI",
        P::GetAttributeListRequest => "GALS",
        P::SendMessageRequest => "MDELIV",
        P::ForwardMessageRequest => "FWMSG",
        P::SetDeliveryMethodRequest => "SETD",
        P::GetMessageListRequest => "GETLM",
        P::GetMessageRequest => "GETM",
        P::RejectMessageRequest => "REJCM",
        P::GetBlockedListRequest => "GLBLU",
        P::BlockEntityRequest => "BLENT",
        P::CreateGroupRequest => "CREAG",
        P::DeleteGroupRequest => "DELGR",
        P::GetGroupPropsRequest => "GETGP",
        P::SetGroupPropsRequest => "SETGP",
        P::SubscribeGroupNoticeRequest => "SUBGCN",
        P::ExtendConversationRequest => "EXCON",
        P::GetGroupMembersRequest => "GETGM",
        P::AddGroupMembersRequest => "ADDGM",
        P::RemoveGroupMembersRequest => "RMVGM",
        P::MemberAccessRequest => "MBRAC",
        P::RejectListRequest => "REJEC",
        P::GetJoinedUsersRequest => "GETJU",
        _ => return None,
    })
}

/// A set of leaf function codes: one bit per code of the function tree.
/// Every session keeps the set it agreed, so it is 16 bytes rather than a
/// tree of strings (issue 19: memory per session). Two words rather than
/// a `u128`, whose 16-byte alignment padded the session's state and the
/// session itself into the next allocation size.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionSet([u64; 2]);

// One bit per entry of the tree.
const _: () = assert!(TREE.len() <= 128);

/// The bit of `code`: its first place in the tree.
fn bit_of(code: &str) -> Option<u128> {
    TREE.iter()
        .position(|(_, _, c, _)| *c == code)
        .map(|i| 1u128 << i)
}

impl FunctionSet {
    fn from_bits(b: u128) -> FunctionSet {
        FunctionSet([b as u64, (b >> 64) as u64])
    }

    fn bits(&self) -> u128 {
        u128::from(self.0[0]) | (u128::from(self.0[1]) << 64)
    }
}

impl std::fmt::Debug for FunctionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.codes()).finish()
    }
}

impl FromIterator<&'static str> for FunctionSet {
    fn from_iter<I: IntoIterator<Item = &'static str>>(codes: I) -> FunctionSet {
        FunctionSet::from_bits(codes.into_iter().filter_map(bit_of).fold(0, |a, b| a | b))
    }
}

impl FunctionSet {
    /// What this server offers in `version`, less what policy switched
    /// off. `disabled` may name codes, function groups or features.
    pub fn available(version: Version, disabled: &[String]) -> FunctionSet {
        let off = |name: &str| disabled.iter().any(|d| d.eq_ignore_ascii_case(name));
        TREE.iter()
            .filter(|(f, g, c, since)| {
                *since <= version && IMPLEMENTED.contains(c) && !off(f) && !off(g) && !off(c)
            })
            .map(|(_, _, c, _)| *c)
            .collect()
    }

    /// Whether [`FunctionSet::available`] would hold `code`, without
    /// building the set (asked once per transaction).
    pub fn offers(version: Version, disabled: &[String], code: &str) -> bool {
        let off = |name: &str| disabled.iter().any(|d| d.eq_ignore_ascii_case(name));
        TREE.iter().any(|(f, g, c, since)| {
            *c == code
                && *since <= version
                && IMPLEMENTED.contains(c)
                && !off(f)
                && !off(g)
                && !off(c)
        })
    }

    /// Every code a `Functions` element asks for. An empty feature or
    /// group element means its whole subtree, and so does an empty
    /// `WVCSPFeat` (or an empty `Functions`): every feature. MF/MP/MM/MG
    /// mean the whole feature. Unknown names are ignored.
    pub fn requested(functions: &Element, version: Version) -> FunctionSet {
        let feat_root = functions.child("WVCSPFeat").unwrap_or(functions);
        if feat_root.children.is_empty() {
            return TREE
                .iter()
                .filter(|(_, _, _, since)| *since <= version)
                .map(|(_, _, c, _)| *c)
                .collect();
        }
        let mut set = FunctionSet::default();
        for feat in &feat_root.children {
            let whole_feature = feat.children.is_empty()
                || feat
                    .children
                    .iter()
                    .any(|c| matches!(c.name.as_str(), "MF" | "MP" | "MM" | "MG"));
            for (f, g, c, since) in TREE {
                if *f != feat.name || *since > version {
                    continue;
                }
                let wanted = whole_feature
                    || feat.children.iter().any(|grp| {
                        grp.name == *g
                            && (grp.children.is_empty()
                                || grp.children.iter().any(|x| x.name == *c))
                    });
                if wanted {
                    set = FunctionSet::from_bits(set.bits() | bit_of(c).unwrap_or(0));
                }
            }
        }
        set
    }

    pub fn contains(&self, code: &str) -> bool {
        bit_of(code).is_some_and(|b| self.bits() & b != 0)
    }

    pub fn intersect(&self, other: &FunctionSet) -> FunctionSet {
        FunctionSet::from_bits(self.bits() & other.bits())
    }

    pub fn minus(&self, other: &FunctionSet) -> FunctionSet {
        FunctionSet::from_bits(self.bits() & !other.bits())
    }

    pub fn is_empty(&self) -> bool {
        self.bits() == 0
    }

    /// The codes in this set, in the tree's order.
    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        TREE.iter()
            .enumerate()
            .filter(|(i, _)| self.bits() & (1u128 << i) != 0)
            .map(|(_, (_, _, c, _))| *c)
    }

    /// `WVCSPFeat{Feature{Group{CODE/}}}` for the codes in this set.
    pub fn to_tree(&self) -> Element {
        let mut root = Element::new("WVCSPFeat");
        for (f, g, c, _) in TREE {
            if !self.contains(c) {
                continue;
            }
            if root.child(f).is_none() {
                root.children.push(Element::new(*f));
            }
            if let Some(feat) = root.child_mut(f) {
                if feat.child(g).is_none() {
                    feat.children.push(Element::new(*g));
                }
                if let Some(grp) = feat.child_mut(g) {
                    grp.children.push(Element::new(*c));
                }
            }
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two words give back every bit, the high word's included (the
    /// tree uses fewer than 64 today).
    #[test]
    fn a_set_keeps_every_bit_in_its_two_words() {
        for b in [
            0,
            1,
            1 << 63,
            1 << 64,
            1 << 127,
            u128::MAX,
            0x0123_4567_89ab_cdef_f00d_u128 << 40,
        ] {
            assert_eq!(FunctionSet::from_bits(b).bits(), b, "{b:#x}");
        }
    }

    #[test]
    fn empty_feature_means_everything_below() {
        let f = Element::new("Functions").with(
            Element::new("WVCSPFeat")
                .with(Element::new("FundamentalFeat"))
                .with(
                    Element::new("PresenceFeat")
                        .with(Element::new("ContListFunc").with(Element::new("GCLI"))),
                ),
        );
        let r = FunctionSet::requested(&f, Version::V1_2);
        assert!(r.contains("GETSPI") && r.contains("SRCH") && r.contains("VRID"));
        assert!(!r.contains("GETMAP"), "1.3 code not in 1.2");
        assert!(r.contains("GCLI") && !r.contains("CCLI"));
    }

    #[test]
    fn an_empty_wvcspfeat_asks_for_every_feature() {
        for f in [
            Element::new("Functions").with(Element::new("WVCSPFeat")),
            Element::new("Functions"),
        ] {
            let r = FunctionSet::requested(&f, Version::V1_3);
            assert!(r.contains("GETSPI") && r.contains("UPDPR") && r.contains("NEWM"));
            assert!(r.contains("CREAG") && r.contains("GETMAP"), "{r:?}");
        }
        let r = FunctionSet::requested(&Element::new("Functions"), Version::V1_1);
        assert!(!r.contains("GETMAP"), "1.3 code not in 1.1");
    }

    #[test]
    fn policy_narrows_available() {
        let all = FunctionSet::available(Version::V1_3, &[]);
        assert!(all.contains("GETSPI"));
        let none = FunctionSet::available(Version::V1_3, &["FundamentalFeat".into()]);
        assert!(!none.contains("GETSPI"));
        let tree = all.to_tree();
        assert!(
            tree.path(&["FundamentalFeat", "ServiceFunc", "GETSPI"])
                .is_some()
        );
    }

    #[test]
    fn offers_agrees_with_the_available_set() {
        let policies: [Vec<String>; 3] = [
            vec![],
            vec!["IMSendFunc".into(), "GETMAP".into()],
            vec!["PresenceFeat".into()],
        ];
        for v in Version::ALL {
            for off in &policies {
                let set = FunctionSet::available(v, off);
                for (_, _, code, _) in TREE {
                    assert_eq!(
                        FunctionSet::offers(v, off, code),
                        set.contains(code),
                        "{v:?} {off:?} {code}"
                    );
                }
            }
        }
    }
}
