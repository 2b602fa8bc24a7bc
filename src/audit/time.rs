//! UTC timestamps for audit records: Unix milliseconds inside, RFC 3339 outside
//! (`2024-05-01T12:30:00Z`, or `2024-05-01T12:30:00.250Z` when there are milliseconds). Pure: the
//! clock is read by the caller ([`Timestamp::from_system_time`] takes the time it is given).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::days_from_civil;

/// A UTC instant with millisecond precision, between the years 0000 and 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

/// Why a text is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a date: {reason} (expected YYYY-MM-DD or RFC 3339, e.g. 2024-05-01T12:30:00Z)"
)]
pub struct TimeError {
    pub text: String,
    pub reason: &'static str,
}

const MS_PER_DAY: i64 = 86_400_000;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const MIN_MILLIS: i64 = -62_167_219_200_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// `None` outside the years 0000-9999.
    pub fn from_unix_millis(millis: i64) -> Option<Timestamp> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&millis)
            .then_some(Timestamp { millis })
    }

    /// The instant `time` (truncated to milliseconds; clamped to the supported years).
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let millis = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(MAX_MILLIS),
            Err(before) => i64::try_from(before.duration().as_millis())
                .map_or(MIN_MILLIS, |ms| ms.saturating_neg()),
        };
        Timestamp {
            millis: millis.clamp(MIN_MILLIS, MAX_MILLIS),
        }
    }

    pub fn unix_millis(self) -> i64 {
        self.millis
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`, `z` and a space for the
    /// `T` are accepted too). Fractions finer than a millisecond are truncated; leap seconds are
    /// refused.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        let fail = |reason| TimeError {
            text: text.to_owned(),
            reason,
        };
        let bytes = text.as_bytes();
        if !text.is_ascii() || bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
            return Err(fail("not an RFC 3339 date and time"));
        }
        let days = parse_date(&text[..10]).map_err(fail)?;
        let clock = &text[11..];
        let (hour, minute, second) = (
            digits(clock, 0, 2).ok_or_else(|| fail("bad hour"))?,
            digits(clock, 3, 2).ok_or_else(|| fail("bad minute"))?,
            digits(clock, 6, 2).ok_or_else(|| fail("bad second"))?,
        );
        if clock.as_bytes()[2] != b':' || clock.as_bytes()[5] != b':' {
            return Err(fail("the time must be HH:MM:SS"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(fail("hour, minute or second out of range"));
        }
        let mut rest = &clock[8..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return Err(fail("empty fraction of a second"));
            }
            for (digit, weight) in fraction.bytes().take(len.min(3)).zip([100, 10, 1]) {
                millis += i64::from(digit - b'0') * weight;
            }
            rest = &fraction[len..];
        }
        let offset_minutes = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(fail("missing time zone (Z or ±HH:MM)")),
                };
                let zone = &rest[1..];
                let (Some(hours), Some(minutes)) = (digits(zone, 0, 2), digits(zone, 3, 2)) else {
                    return Err(fail("bad time zone offset"));
                };
                if zone.len() != 5 || zone.as_bytes()[2] != b':' || hours > 23 || minutes > 59 {
                    return Err(fail("bad time zone offset"));
                }
                sign * (hours * 60 + minutes)
            }
        };
        let local = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
        Timestamp::from_unix_millis(local - offset_minutes * 60_000)
            .ok_or_else(|| fail("outside the years 0000-9999"))
    }

    /// Parses a day, `YYYY-MM-DD` (its first instant, UTC), or an RFC 3339 date and time.
    pub fn parse_date_or_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        if text.len() == 10 {
            let days = parse_date(text).map_err(|reason| TimeError {
                text: text.to_owned(),
                reason,
            })?;
            return Timestamp::from_unix_millis(days * MS_PER_DAY).ok_or(TimeError {
                text: text.to_owned(),
                reason: "outside the years 0000-9999",
            });
        }
        Timestamp::parse_rfc3339(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.millis.div_euclid(MS_PER_DAY);
        let in_day = self.millis.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (seconds, millis) = (in_day / 1000, in_day % 1000);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(text: &str) -> Result<i64, &'static str> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err("the date must be YYYY-MM-DD");
    }
    let (Some(year), Some(month), Some(day)) =
        (digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2))
    else {
        return Err("the date must be YYYY-MM-DD");
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("no such day");
    }
    Ok(days_from_civil(year, month, day))
}

/// The number made of `len` ASCII digits at `at`, if they are all there.
fn digits(text: &str, at: usize, len: usize) -> Option<i64> {
    let part = text.as_bytes().get(at..at + len)?;
    part.iter().try_fold(0, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The date of a day since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Timestamp {
        Timestamp::parse_date_or_rfc3339(text).expect(text)
    }

    #[test]
    fn formats_and_parses_back() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.001Z",
            "2000-03-01T12:00:00.250Z",
            "1969-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(parse(text).to_string(), text);
        }
        assert_eq!(parse("1970-01-02T00:00:00Z").unix_millis(), MS_PER_DAY);
    }

    #[test]
    fn offsets_dates_and_fractions_normalize_to_utc() {
        assert_eq!(
            parse("2024-05-01T14:30:00+02:00").to_string(),
            "2024-05-01T12:30:00Z"
        );
        assert_eq!(
            parse("2024-05-01t12:30:00.123456-00:30").to_string(),
            "2024-05-01T13:00:00.123Z"
        );
        assert_eq!(parse("2024-05-01").to_string(), "2024-05-01T00:00:00Z");
    }

    #[test]
    fn bad_input_says_why() {
        for text in [
            "",
            "yesterday",
            "2024-13-01",
            "2023-02-29",
            "2024-05-01T12:30:00",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:30:60Z",
            "2024-05-01T12:30:00.Z",
            "2024-05-01T12:30:00+0200",
            "2024-5-1",
        ] {
            let error = Timestamp::parse_date_or_rfc3339(text).expect_err(text);
            assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
        }
    }

    #[test]
    fn every_day_round_trips() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
