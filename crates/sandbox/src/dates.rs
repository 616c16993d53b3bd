//! Date formats by API generation (docs/api-notes.md §0.6): V3 is ISO 8601
//! (`2018-09-05T20:22:19+00:00`), V2 is RFC 2822 in UTC (`Wed, 05 Sep 2018 20:22:19 +0000`),
//! webhooks use epoch seconds. Filters accept several forms; a bare date on product
//! `date_modified:min` gets the current time appended, as the real API does
//! (docs/api-notes.md §12.4).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The sandbox clock: wall time truncated to whole seconds, as BigCommerce stores dates.
pub fn now() -> DateTime<Utc> {
    let n = Utc::now();
    Utc.timestamp_opt(n.timestamp(), 0).single().unwrap_or(n)
}

/// V3 ISO 8601 with an explicit `+00:00` offset.
pub fn iso(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// V2 RFC 2822, always UTC `+0000`.
pub fn rfc2822(dt: DateTime<Utc>) -> String {
    dt.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// Parses a date filter value: RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff]` (UTC), RFC 2822, unix
/// seconds, or a bare `YYYY-MM-DD`. A bare date becomes midnight, unless
/// `bare_date_gets_now_time` (product `date_modified` filters), where the time of `now` is
/// appended instead: the real quirk that makes date-only bookmarks skip records.
pub fn parse_filter(
    s: &str,
    now: DateTime<Utc>,
    bare_date_gets_now_time: bool,
) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let time = if bare_date_gets_now_time {
            now.time()
        } else {
            chrono::NaiveTime::MIN
        };
        return Some(Utc.from_utc_datetime(&d.and_time(time)));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Utc.timestamp_opt(secs, 0).single();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let dt = Utc.with_ymd_and_hms(2018, 9, 5, 20, 22, 19).unwrap();
        assert_eq!(iso(dt), "2018-09-05T20:22:19+00:00");
        assert_eq!(rfc2822(dt), "Wed, 05 Sep 2018 20:22:19 +0000");
    }

    #[test]
    fn parses_every_filter_form() {
        let now = Utc.with_ymd_and_hms(2024, 5, 14, 9, 34, 0).unwrap();
        let want = Utc.with_ymd_and_hms(2017, 4, 20, 15, 32, 0).unwrap();
        assert_eq!(
            parse_filter("Thu, 20 Apr 2017 11:32:00 -0400", now, false),
            Some(want)
        );
        assert_eq!(
            parse_filter("2017-04-20T11:32:00.000-04:00", now, false),
            Some(want)
        );
        assert_eq!(parse_filter("2017-04-20T15:32:00", now, false), Some(want));
        assert_eq!(parse_filter("1492702320", now, false), Some(want));
        let bare = parse_filter("2017-04-20", now, true).unwrap();
        assert_eq!(bare, Utc.with_ymd_and_hms(2017, 4, 20, 9, 34, 0).unwrap());
        assert_eq!(
            parse_filter("2017-04-20", now, false),
            Utc.with_ymd_and_hms(2017, 4, 20, 0, 0, 0).single()
        );
        assert_eq!(parse_filter("yesterday", now, false), None);
    }
}
