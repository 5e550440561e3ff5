//! Signed timestamps: parsing, the tolerance check, and formatting without allocation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SignatureError;

/// Reason given when a timestamp field is not plain decimal seconds.
pub(crate) const NOT_UNIX_SECONDS: &str = "timestamp is not a unix time in whole seconds";

/// Parses unsigned decimal seconds. Signs, spaces, fractions and values beyond `i64` are refused:
/// senders write plain integers, so anything else is a bug worth reporting.
pub(crate) fn parse_unix_seconds(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() {
        return None;
    }
    raw.iter().try_fold(0_i64, |acc, &digit| {
        if !digit.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
    })
}

/// `now` as unix seconds; times before 1970 come out negative.
pub(crate) fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}

/// Accepts `timestamp` when it is at most `tolerance` away from `now`, in either direction.
pub(crate) fn check_fresh(
    timestamp: i64,
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let tolerance_secs = tolerance.as_secs();
    let distance = timestamp.abs_diff(now);
    if distance <= tolerance_secs {
        Ok(())
    } else if timestamp < now {
        Err(SignatureError::Expired {
            age_secs: distance,
            tolerance_secs,
        })
    } else {
        Err(SignatureError::FromTheFuture {
            ahead_secs: distance,
            tolerance_secs,
        })
    }
}

/// Writes `n` in decimal into the end of `buf` and returns the written part. Twenty bytes hold
/// every `i64`, sign included.
pub(crate) fn write_decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        // `rest % 10` is a single digit, so the cast cannot truncate.
        buf[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimal_seconds_parse() {
        assert_eq!(parse_unix_seconds(b"1614265330"), Some(1_614_265_330));
        assert_eq!(parse_unix_seconds(b"0"), Some(0));
    }

    #[test]
    fn anything_but_plain_decimal_seconds_is_refused() {
        for raw in [
            &b""[..],
            b"-5",
            b"+5",
            b"12.5",
            b"1e9",
            b"hello",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_unix_seconds(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        let before = UNIX_EPOCH - Duration::from_secs(7);
        assert_eq!(unix_seconds(before), -7);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(7)), 7);
    }

    #[test]
    fn tolerance_is_inclusive_on_both_sides() {
        let tolerance = Duration::from_secs(300);
        assert_eq!(check_fresh(700, 1000, tolerance), Ok(()));
        assert_eq!(check_fresh(1300, 1000, tolerance), Ok(()));
        assert_eq!(
            check_fresh(699, 1000, tolerance),
            Err(SignatureError::Expired {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            check_fresh(1301, 1000, tolerance),
            Err(SignatureError::FromTheFuture {
                ahead_secs: 301,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let tolerance = Duration::from_secs(300);
        assert!(matches!(
            check_fresh(i64::MIN, i64::MAX, tolerance),
            Err(SignatureError::Expired {
                age_secs: u64::MAX,
                ..
            })
        ));
    }

    #[test]
    fn decimal_formatting_matches_display() {
        for n in [0, 7, -7, 1_614_265_330, i64::MAX, i64::MIN] {
            let mut buf = [0; 20];
            assert_eq!(write_decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
