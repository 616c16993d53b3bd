//! The API's date formats (docs/api-notes.md §0.6, §12.4): V2 writes RFC 2822
//! (`Tue, 20 Nov 2012 00:00:00 +0000`), V3 writes ISO 8601 with either `Z` or `+00:00`.
//! Parsing is lenient (a careful client survives both, plus the odd forms seen in
//! examples); formatting always writes full timestamps, because a bare date in a V3
//! filter gets the *current time* appended and can skip a day of changes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Parses a V2 RFC 2822 date. Empty strings (an unshipped order's `date_shipped`) are
/// `None`.
pub fn parse_v2(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Parses a V3 ISO 8601 / RFC 3339 date: `2018-11-13T21:42:06Z`,
/// `2018-08-15T14:48:46+00:00`, with or without fractional seconds. A timestamp without
/// an offset (as accepted in filters) is taken as UTC.
pub fn parse_v3(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    // `+0000` offsets without a colon show up in some payloads.
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Parses any date the API is known to send: V3 ISO 8601, V2 RFC 2822, the
/// `2023-07-17 06:30:41` form of V2 customer-group examples (uncertain, docs/api-notes.md §0.6;
/// read as UTC), a bare `YYYY-MM-DD` (midnight UTC) or UNIX epoch seconds (webhooks).
pub fn parse_any(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(d) = parse_v3(s).or_else(|| parse_v2(s)) {
        return Some(d);
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(n.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
    }
    None
}

/// `2024-05-14T09:34:00Z`: a full UTC timestamp, whole seconds, for V3 bodies and filters
/// (and V2 filters, which accept ISO 8601 too).
pub fn format_iso(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `Tue, 14 May 2024 09:34:00 +0000`: for V2 bodies that must be RFC 2822 (coupon
/// `expires`).
pub fn format_rfc2822(dt: DateTime<Utc>) -> String {
    dt.to_rfc2822()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
    }

    #[test]
    fn parses_v2_rfc2822() {
        assert_eq!(
            parse_v2("Tue, 20 Nov 2012 00:00:00 +0000"),
            Some(utc(2012, 11, 20, 0, 0, 0))
        );
        assert_eq!(
            parse_v2("Thu, 20 Apr 2017 11:32:00 -0400"),
            Some(utc(2017, 4, 20, 15, 32, 0))
        );
        assert_eq!(parse_v2(""), None);
        assert_eq!(parse_v2("2018-11-13T21:42:06Z"), None);
    }

    #[test]
    fn parses_v3_both_offset_styles() {
        let want = utc(2018, 11, 13, 21, 42, 6);
        assert_eq!(parse_v3("2018-11-13T21:42:06Z"), Some(want));
        assert_eq!(parse_v3("2018-11-13T21:42:06+00:00"), Some(want));
        assert_eq!(parse_v3("2018-11-13T21:42:06+0000"), Some(want));
        assert_eq!(parse_v3("2018-11-13T21:42:06"), Some(want));
        assert_eq!(parse_v3("2018-11-13T23:42:06.000+02:00"), Some(want));
        assert_eq!(parse_v3("Tue, 20 Nov 2012 00:00:00 +0000"), None);
        assert_eq!(parse_v3(""), None);
    }

    #[test]
    fn parse_any_accepts_every_known_form() {
        let want = utc(2023, 7, 17, 6, 30, 41);
        assert_eq!(parse_any("2023-07-17T06:30:41Z"), Some(want));
        assert_eq!(parse_any("Mon, 17 Jul 2023 06:30:41 +0000"), Some(want));
        assert_eq!(parse_any("2023-07-17 06:30:41"), Some(want));
        assert_eq!(parse_any("1689575441"), Some(want));
        assert_eq!(parse_any("2023-07-17"), Some(utc(2023, 7, 17, 0, 0, 0)));
        assert_eq!(parse_any("not a date"), None);
        assert_eq!(parse_any("  "), None);
    }

    #[test]
    fn formats_full_timestamps() {
        let dt = utc(2024, 5, 14, 9, 34, 0) + chrono::Duration::milliseconds(789);
        assert_eq!(format_iso(dt), "2024-05-14T09:34:00Z");
        assert_eq!(format_rfc2822(dt), "Tue, 14 May 2024 09:34:00 +0000");
        assert_eq!(
            parse_v2(&format_rfc2822(dt)),
            Some(utc(2024, 5, 14, 9, 34, 0))
        );
        assert_eq!(parse_v3(&format_iso(dt)), Some(utc(2024, 5, 14, 9, 34, 0)));
    }
}
