//! The form of RFC 3339 nearly every collector writes,
//! `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, read without chrono's general parser.
//!
//! chrono's RFC 3339 parser handles every form the standard allows (offsets,
//! lower-case separators, leap seconds) and costs more per event than the
//! rest of a typical event's fields together. This reads only the one form's
//! digits, has chrono check and combine them, and returns `None` for
//! anything else, which then goes to chrono's parser: the two agree on every
//! input this accepts (tested).

use chrono::{DateTime, NaiveDate, Utc};

/// The time `text` names in the plain UTC form, truncated below a
/// microsecond; `None` when `text` is in any other form or names no valid
/// time.
pub fn plain_utc(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let (fixed, rest) = bytes.split_at_checked(19)?;
    let fraction = rest.strip_suffix(b"Z")?;
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
    date.and_hms_micro_opt(
        number(11, 2)?,
        number(14, 2)?,
        number(17, 2)?,
        micros_of_second,
    )
    .map(|time| time.and_utc())
}

#[cfg(test)]
mod tests {
    use chrono::SecondsFormat;
    use proptest::prelude::*;

    use super::*;

    fn plain_utc_micros(text: &str) -> Option<i64> {
        plain_utc(text).map(|t| t.timestamp_micros())
    }

    fn chrono_micros(text: &str) -> Option<i64> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros())
    }

    #[test]
    fn reads_the_plain_form_as_chrono_does() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2025-01-01T02:34:02.481696Z",
            "2024-02-29T23:59:59.9999999Z",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00.000000001Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            assert_eq!(plain_utc_micros(text), chrono_micros(text), "{text}");
            assert!(plain_utc_micros(text).is_some(), "{text}");
        }
    }

    #[test]
    fn leaves_every_other_form_to_chrono() {
        for text in [
            "2025-01-01T02:34:02+00:00",
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
        ] {
            assert_eq!(plain_utc_micros(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_chrono_wherever_it_answers(
            text in "[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?[Zz]?"
        ) {
            if let Some(micros) = plain_utc_micros(&text) {
                prop_assert_eq!(Some(micros), chrono_micros(&text));
            }
        }

        #[test]
        fn answers_for_every_time_chrono_writes_in_the_plain_form(
            micros in -62_135_596_800_000_000i64..253_402_300_799_999_999,
            nanos in 0u32..1000,
            format in prop::sample::select(vec![SecondsFormat::Secs, SecondsFormat::Millis, SecondsFormat::Micros, SecondsFormat::Nanos, SecondsFormat::AutoSi]),
        ) {
            let time = DateTime::from_timestamp_micros(micros).unwrap()
                + chrono::TimeDelta::nanoseconds(i64::from(nanos));
            let text = time.to_rfc3339_opts(format, true);
            prop_assert_eq!(plain_utc_micros(&text), chrono_micros(&text), "{}", text);
            prop_assert!(plain_utc_micros(&text).is_some(), "{}", text);
        }
    }
}
