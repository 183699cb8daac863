//! Fuzzes the typed CSP layer (`imps_wire::csp`): arbitrary bytes are
//! decoded into a `Message` (XML when the first non-blank byte is `<`,
//! else WBXML, as the server sniffs a body without a Content-Type), and
//! every transaction body is handed to the typed reader of its primitive,
//! in each of the three versions. A reader must return a value or a
//! `WireError`, never panic. Whatever it reads must write back to an
//! element that reads again, and writing that gives the same element
//! (a fixpoint: the typed writer never produces something its own reader
//! takes differently). The content-type helpers and the digest-schema
//! parser get the input as text too.
//!
//! RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none csp_typed corpus/csp_typed seeds

#![no_main]

use imps_wire::csp::{self, Primitive};
use imps_wire::{Element, Encoding, Limits, PrimitiveKind, Version};
use libfuzzer_sys::fuzz_target;

/// Reads `e` as `T` in version `v`; when it reads, checks the write/read
/// fixpoint.
fn check<T: Primitive>(e: &Element, v: Version) {
    let Ok(first) = T::from_element(e, v) else {
        return;
    };
    let written = first.to_element(v);
    let again = match T::from_element(&written, v) {
        Ok(t) => t,
        Err(err) => panic!(
            "{:?} in {v:?}: our own output does not read back: {err}\n{written:?}",
            T::KIND
        ),
    };
    assert_eq!(
        again.to_element(v),
        written,
        "{:?} in {v:?}: write(read(write(read(e)))) != write(read(e))",
        T::KIND
    );
}

/// The typed reader for `kind`, if it has one; `false` when not.
fn typed(kind: PrimitiveKind, e: &Element, v: Version) -> bool {
    use csp::*;
    macro_rules! dispatch {
        ($($ty:ident),* $(,)?) => {
            $(
                if kind == <$ty as Primitive>::KIND {
                    check::<$ty>(e, v);
                    return true;
                }
            )*
        };
    }
    dispatch!(
        ClientCapabilityRequest,
        Disconnect,
        KeepAliveRequest,
        KeepAliveResponse,
        LoginRequest,
        LoginResponse,
        LogoutRequest,
        PollingRequest,
        ServiceRequest,
        Status,
        GetMessageListRequest,
        GetMessageListResponse,
        GetMessageRequest,
        GetMessageResponse,
        MessageDelivered,
        MessageNotification,
        NewMessage,
        SendMessageRequest,
        SendMessageResponse,
        GetPresenceRequest,
        GetPresenceResponse,
        PresenceNotificationRequest,
        UpdatePresenceRequest,
        SystemMessageRequest,
        SystemMessageUser,
        SearchRequest,
        SearchResponse,
        StopSearchRequest,
        GetPublicProfileRequest,
        GetPublicProfileResponse,
        UpdatePublicProfileRequest,
    );
    false
}

fuzz_target!(|data: &[u8]| {
    // The helpers that see header values and login fields as text.
    if let Ok(s) = std::str::from_utf8(data)
        && s.len() <= 256
    {
        let _ = csp::content_type::encoding_for(s);
        let _ = csp::content_type::is_csp(s);
        let _ = csp::content_type::media_type(s);
        let _ = csp::digest::DigestSchema::parse(s);
    }

    let enc = match data.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Encoding::Xml,
        _ => Encoding::Wbxml,
    };
    let Ok(msg) = imps_wire::decode(data, enc, &Limits::default()) else {
        return;
    };
    for tx in &msg.transactions {
        // A body's own name picks its reader; every version is tried,
        // the message's own first.
        let Some(kind) = PrimitiveKind::from_name(&tx.body.name) else {
            continue;
        };
        let mut versions = vec![msg.version];
        versions.extend(Version::ALL.into_iter().filter(|v| *v != msg.version));
        for v in versions {
            if !typed(kind, &tx.body, v) {
                break;
            }
        }
    }
});
