//! The forms of RFC 3339 nearly every collector writes,
//! `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or an offset `±HH:MM`, read
//! without chrono's general parser.
//!
//! chrono's RFC 3339 parser handles every form the standard allows (lower-case
//! separators, leap seconds, any number of fractional digits) and costs more
//! per event than the rest of a typical event's fields together. This reads
//! only the common forms' digits, has chrono check and combine them, and
//! returns `None` for anything else, which then goes to chrono's parser: the
//! two agree on every input this accepts (tested). Offsets matter as much as
//! `Z`: producers that write local time (Python's `isoformat()`, Java's
//! `OffsetDateTime`, PHP's `DATE_ATOM`) write one on every event.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// The time `text` names in a common RFC 3339 form, in UTC, truncated below
/// a microsecond; `None` when `text` is in any other form or names no valid
/// time.
pub fn plain_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let (fixed, rest) = bytes.split_at_checked(19)?;
    let (fraction, offset_seconds) = split_offset(rest)?;
    if [fixed[4], fixed[7], fixed[10], fixed[13], fixed[16]] != *b"--T::" {
        return None;
    }
    let number = |at: usize, len: usize| -> Option<u32> {
        fixed[at..at + len].iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let micros_of_second = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut micros = 0u32;
            for (index, &digit) in digits.iter().enumerate() {
                if !digit.is_ascii_digit() {
                    return None;
                }
                if index < 6 {
                    micros = micros * 10 + u32::from(digit - b'0');
                }
            }
            micros * 10u32.pow(6u32.saturating_sub(digits.len() as u32))
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 2)?,
        number(8, 2)?,
    )?;
    // chrono refuses a second of 60 here (a leap second, which only its
    // parser reads), as it refuses hour 24 or minute 60.
    let local = date.and_hms_micro_opt(
        number(11, 2)?,
        number(14, 2)?,
        number(17, 2)?,
        micros_of_second,
    )?;
    let utc = match offset_seconds {
        0 => local,
        _ => local.checked_sub_signed(TimeDelta::seconds(i64::from(offset_seconds)))?,
    };
    Some(utc.and_utc())
}

/// Splits what follows the seconds into the fraction and the offset, in
/// seconds east of UTC: `Z`, or `+HH:MM` / `-HH:MM` within the ±23:59 that
/// RFC 3339 (and chrono) allow.
fn split_offset(rest: &[u8]) -> Option<(&[u8], i32)> {
    if let Some(fraction) = rest.strip_suffix(b"Z") {
        return Some((fraction, 0));
    }
    let (fraction, offset) = rest.split_at_checked(rest.len().checked_sub(6)?)?;
    let &[sign, h1, h2, b':', m1, m2] = offset else {
        return None;
    };
    let sign = match sign {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two_digits = |tens: u8, ones: u8| {
        (tens.is_ascii_digit() && ones.is_ascii_digit())
            .then(|| i32::from(tens - b'0') * 10 + i32::from(ones - b'0'))
    };
    let (hours, minutes) = (two_digits(h1, h2)?, two_digits(m1, m2)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((fraction, sign * (hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, SecondsFormat};
    use proptest::prelude::*;

    use super::*;

    fn plain_micros(text: &str) -> Option<i64> {
        plain_rfc3339(text).map(|t| t.timestamp_micros())
    }

    fn chrono_micros(text: &str) -> Option<i64> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros())
    }

    #[test]
    fn reads_the_common_forms_as_chrono_does() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2025-01-01T02:34:02.481696Z",
            "2024-02-29T23:59:59.9999999Z",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00.000000001Z",
            "9999-12-31T23:59:59.999999999Z",
            "2025-01-01T02:34:02+00:00",
            "2025-01-01T02:34:02-00:00",
            "2026-03-02T10:15:30.123456+01:00",
            "2026-03-01T23:30:00.5-05:30",
            "2024-12-31T23:59:59+23:59",
            "2025-01-01T00:00:00-23:59",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:00:00-05:00",
            "1969-12-31T23:59:59.999999-00:01",
        ] {
            assert_eq!(plain_micros(text), chrono_micros(text), "{text}");
            assert!(plain_micros(text).is_some(), "{text}");
        }
    }

    #[test]
    fn leaves_every_other_form_to_chrono() {
        for text in [
            "2025-01-01t02:34:02z",
            "2025-01-01 02:34:02Z",
            "2025-01-01T02:34:60Z",
            "2025-02-29T02:34:02Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T02:34:02.Z",
            "2025-01-01T02:34:02.1234567890Z",
            "2025-01-01T02:34:0aZ",
            "+2025-01-01T02:34:02Z",
            "2025-1-01T02:34:02Z",
            "2025-01-01T02:34:02+24:00",
            "2025-01-01T02:34:02+01:60",
            "2025-01-01T02:34:02+0100",
            "2025-01-01T02:34:02+01",
            "2025-01-01T02:34:02\u{2212}01:00",
            "2025-01-01T02:34:02.+01:00",
            "2025-01-01T02:34:02",
            "2025-01-01T02:34:02Z+01:00",
        ] {
            assert_eq!(plain_micros(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_chrono_wherever_it_answers(
            text in "[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?([Zz]|[+-][0-2][0-9]:[0-6][0-9])?"
        ) {
            if let Some(micros) = plain_micros(&text) {
                prop_assert_eq!(Some(micros), chrono_micros(&text));
            }
        }

        #[test]
        fn answers_for_every_time_chrono_writes_in_a_common_form(
            micros in -62_135_510_400_000_000i64..253_402_214_399_999_999,
            nanos in 0u32..1000,
            offset_minutes in -1439i32..=1439,
            use_z in any::<bool>(),
            format in prop::sample::select(vec![SecondsFormat::Secs, SecondsFormat::Millis, SecondsFormat::Micros, SecondsFormat::Nanos, SecondsFormat::AutoSi]),
        ) {
            let zone = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let time = (DateTime::from_timestamp_micros(micros).unwrap()
                + chrono::TimeDelta::nanoseconds(i64::from(nanos)))
                .with_timezone(&zone);
            let text = time.to_rfc3339_opts(format, use_z);
            prop_assert_eq!(plain_micros(&text), chrono_micros(&text), "{}", text);
            prop_assert!(plain_micros(&text).is_some(), "{}", text);
        }
    }
}
