//! Calendar arithmetic on the injected clock's milliseconds: the CSP
//! DateTime of group messages and a user's age for minimum-age groups.
//! (A few lines of the well-known days-to-civil algorithm spare the core a
//! date crate.)

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1-12) at `now_ms`.
pub(crate) fn year_month(now_ms: u64) -> (u32, u32) {
    let (y, m, _) = civil_from_days(((now_ms / 1000) as i64).div_euclid(86_400));
    (u32::try_from(y).unwrap_or(0), m)
}

/// `yyyymmddThhmmssZ`, the form CSP clients read.
pub(crate) fn csp_datetime(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z",
        t / 3600,
        (t / 60) % 60,
        t % 60
    )
}

/// Full years of someone born in `year`/`month` at `now_ms` (birthdays
/// count from the first of the month: we keep no day).
pub(crate) fn age_years(year: u16, month: u8, now_ms: u64) -> i64 {
    let (y, m, _) = civil_from_days(((now_ms / 1000) as i64).div_euclid(86_400));
    let mut age = y - i64::from(year);
    if m < u32::from(month) {
        age -= 1;
    }
    age
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn datetime_and_age() {
        // 2009-02-13T23:31:30Z
        assert_eq!(csp_datetime(1_234_567_890_000), "20090213T233130Z");
        assert_eq!(csp_datetime(0), "19700101T000000Z");
        assert_eq!(age_years(1990, 3, 1_234_567_890_000), 18);
        assert_eq!(age_years(1990, 2, 1_234_567_890_000), 19);
    }
}
