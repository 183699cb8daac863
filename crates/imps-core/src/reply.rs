//! Builders for the small elements every answer needs. Handlers return
//! elements; they never write XML.

use imps_wire::csp::{CspResult, Status};
use imps_wire::{Element, PrimitiveKind, Version};

use crate::CoreError;

/// A Result or Status without the 1.3-only children (SystemMessageList,
/// TryAgainTimeout) has one shape in every version; this is the version
/// it is written for.
const ANY_VERSION: Version = Version::V1_3;

/// A typed Result (an empty description is left out).
pub fn csp_result(code: u16, description: &str) -> CspResult {
    let description = (!description.is_empty()).then_some(description);
    CspResult::new(u64::from(code), description)
}

/// `Result{Code, Description}`. Every Result carries a Code: a Result
/// without one crashes the Android engine.
pub fn result(code: u16, description: &str) -> Element {
    csp_result(code, description).to_element(ANY_VERSION)
}

pub fn ok_result() -> Element {
    result(200, "Successful")
}

/// `Status{Result}`.
pub fn status(code: u16, description: &str) -> Element {
    Status {
        result: csp_result(code, description),
        ..Status::default()
    }
    .to_element(ANY_VERSION)
}

/// `Status{Result}` around a Result built elsewhere (one that carries
/// DetailedResults).
pub fn status_with(result: Element) -> Element {
    Element::new(PrimitiveKind::Status.name()).with(result)
}

pub fn ok_status() -> Element {
    status(200, "Successful")
}

/// The Status a client sees for an error.
pub fn error_status(err: &CoreError) -> Element {
    status(err.status_code(), &err.description())
}

/// The Status a session of version `v` sees for an error: in 1.3 a
/// temporary refusal carries TryAgainTimeout.
pub fn error_status_for(err: &CoreError, v: Version) -> Element {
    let mut result = csp_result(err.status_code(), &err.description());
    if v >= Version::V1_3 {
        result.try_again_timeout = err.try_again_secs();
    }
    Status {
        result,
        ..Status::default()
    }
    .to_element(v)
}
