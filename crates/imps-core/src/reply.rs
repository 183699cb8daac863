//! Builders for the small elements every answer needs. Handlers return
//! elements; they never write XML.

use imps_wire::Element;

use crate::CoreError;

/// `Result{Code, Description}`. Every Result carries a Code: a Result
/// without one crashes the Android engine.
pub fn result(code: u16, description: &str) -> Element {
    let mut r = Element::new("Result").with_text("Code", code.to_string());
    if !description.is_empty() {
        r = r.with_text("Description", description);
    }
    r
}

pub fn ok_result() -> Element {
    result(200, "Successful")
}

/// `Status{Result}`.
pub fn status(code: u16, description: &str) -> Element {
    Element::new("Status").with(result(code, description))
}

pub fn ok_status() -> Element {
    status(200, "Successful")
}

/// The Status a client sees for an error.
pub fn error_status(err: &CoreError) -> Element {
    status(err.status_code(), &err.description())
}
