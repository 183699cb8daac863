//! What the server's status codes mean to a person, and the exit code the
//! `imps` command ends with. The wording is ours; the codes are the CSP
//! Result codes a server sends.

/// Exit codes of the `imps` command. Scripts test these, so they never
/// change meaning.
pub mod exit {
    /// Done.
    pub const OK: i32 = 0;
    /// A local problem: a file, the terminal, bad input found before
    /// anything was sent.
    pub const LOCAL: i32 = 1;
    /// Wrong command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// No session: not logged in, or the server no longer knows the
    /// session (600, 601, 604). Log in again.
    pub const SESSION: i32 = 3;
    /// The server refused the request (the other codes: 4xx, 53x, 7xx,
    /// 8xx, 9xx).
    pub const REFUSED: i32 = 4;
    /// The server could not or would not do it (500-510: failure, not
    /// implemented, unavailable, not agreed).
    pub const SERVER: i32 = 5;
    /// The server could not be reached, or answered with an HTTP error.
    pub const NETWORK: i32 = 6;
    /// The server's answer did not make sense as CSP.
    pub const PROTOCOL: i32 = 7;
}

/// A short meaning for a CSP status code, in our words; `None` for codes
/// we have no words for (the server's Description still tells).
pub fn meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "continue",
        101 => "queued",
        102 => "started",
        200 => "success",
        201 => "only partly done (see the details)",
        202 => "accepted, to be done later",
        400 => "the server could not read the request",
        401 => "the server wants proof of who you are",
        402 => "a value in the request is wrong or missing",
        403 => "not allowed",
        404 => "no such thing on the server",
        405 => "the server does not offer this service",
        406 | 408 => "the request took too long",
        409 => "wrong password",
        410 => "could not be delivered",
        415 => "the server does not take this kind of content",
        420 => "the transaction number was not accepted",
        422 => "user and client do not belong together",
        423 => "no such invitation",
        424 => "no such search",
        425 => "no more search results at that position",
        426 => "no such message",
        431 => "you are not allowed in that group",
        432 => "the answer would be too large",
        500 => "the server failed",
        501 => "the server does not implement this yet",
        502 => "the session could not be recovered",
        503 => "the service is unavailable right now",
        504 => "the server timed out",
        505 => "the server does not speak this CSP version",
        506 => "this service was not agreed for the session",
        507 => "a message queue is full",
        516 => "that domain is not served here",
        521 => "a presence request is still unanswered",
        522 => "a group request is still unanswered",
        531 => "no such user",
        532 => "the recipient blocked you",
        533 => "the recipient is not logged in",
        534 => "the recipient does not accept this from you",
        535 => "the search took too long",
        536 => "the search found too many",
        537 => "the search is too broad",
        538 => "the message was rejected",
        540 => "the header encoding is not supported",
        541 => "the message was forwarded",
        542 => "the message expired",
        543 => "no common login digest method",
        600 => "session expired",
        601 => "the server logged you out",
        603 => "already logged in",
        604 => "not logged in (the server does not know this session)",
        605 => "the new value was not accepted",
        616 => "not enough rights",
        700 => "no such contact list",
        701 => "the contact list already exists",
        702 => "invalid user properties",
        750 => "invalid presence attribute",
        751 => "invalid presence value",
        752 => "invalid contact list property",
        753 => "too many contact lists",
        754 => "too many contacts",
        755 => "too many attribute lists",
        760 => "automatic subscription is not supported",
        800 => "no such group",
        801 => "the group already exists",
        802 => "the group is open",
        803 => "the group is restricted",
        804 => "the group is public",
        805 => "the group is private",
        806 => "invalid group properties",
        807 => "you already joined the group",
        808 => "you have not joined the group",
        809 => "you may not join the group",
        810 => "you are not a member of the group",
        811 => "that screen name is taken",
        812 => "private messages are off in the group",
        813 => "that user takes no private messages",
        814 => "you are in too many groups",
        815 => "the server has too many groups",
        816 => "you lack the rights in that group",
        817 => "the group is full",
        821 => "the group keeps no history",
        822 => "the group needs a name or topic",
        900 => "several errors (see the details)",
        901 => "bad address",
        902 => "not enough credit",
        903 => "needs a higher class of service",
        920 => "bad phone number",
        _ => return None,
    })
}

/// `531 (no such user)`, or the bare number for codes we have no words for.
pub fn describe(code: u16) -> String {
    match meaning(code) {
        Some(m) => format!("{code} ({m})"),
        None => code.to_string(),
    }
}

/// True for the codes that mean the session is gone: the client must log
/// in again (what Android does on any of them).
pub fn is_session_gone(code: u16) -> bool {
    matches!(code, 600 | 601 | 604)
}

/// The exit code for a refusal with this status code.
pub fn exit_for_status(code: u16) -> i32 {
    if is_session_gone(code) {
        exit::SESSION
    } else if (500..=510).contains(&code) {
        exit::SERVER
    } else {
        exit::REFUSED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_words_and_classes() {
        assert_eq!(describe(531), "531 (no such user)");
        assert_eq!(describe(299), "299");
        assert_eq!(exit_for_status(604), exit::SESSION);
        assert_eq!(exit_for_status(600), exit::SESSION);
        assert_eq!(exit_for_status(501), exit::SERVER);
        assert_eq!(exit_for_status(409), exit::REFUSED);
        assert_eq!(exit_for_status(808), exit::REFUSED);
        assert_eq!(exit_for_status(531), exit::REFUSED);
    }
}
