//! `TimePointSec`: whole seconds since the Unix epoch, as the chain counts time.
//!
//! The JSON form is UTC `"2026-11-24T03:07:15"` with no timezone, as BitShares writes it.
//! Conversion uses integer civil-calendar arithmetic only (no clock, no floats).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct TimePointSec(pub u32);

impl TimePointSec {
    pub const MAX: TimePointSec = TimePointSec(u32::MAX);
    pub const fn secs(self) -> u32 {
        self.0
    }
    /// Adds seconds, saturating at `MAX` (the "never" time).
    pub const fn saturating_add(self, secs: u32) -> TimePointSec {
        TimePointSec(self.0.saturating_add(secs))
    }
    pub const fn saturating_sub(self, secs: u32) -> TimePointSec {
        TimePointSec(self.0.saturating_sub(secs))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for TimePointSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 as i64;
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}
impl fmt::Debug for TimePointSec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed time {0:?}: expected UTC YYYY-MM-DDTHH:MM:SS between 1970 and 2106")]
pub struct TimeParseError(pub String);

impl FromStr for TimePointSec {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TimeParseError(s.to_string());
        let b = s.as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimeParseError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
            return Err(err());
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        // Reject dates like 02-31 that roll over into the next month.
        if civil_from_days(days) != (y, mo as u32, d as u32) {
            return Err(err());
        }
        let total = days * 86_400 + h * 3600 + mi * 60 + se;
        u32::try_from(total).map(TimePointSec).map_err(|_| err())
    }
}

impl Serialize for TimePointSec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for TimePointSec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(TimePointSec(0).to_string(), "1970-01-01T00:00:00");
        let t: TimePointSec = "2026-11-24T03:07:15".parse().unwrap();
        assert_eq!(t.0, 1_795_489_635);
        assert_eq!(t.to_string(), "2026-11-24T03:07:15");
        assert_eq!(TimePointSec::MAX.to_string(), "2106-02-07T06:28:15");
        assert!("2026-02-30T00:00:00".parse::<TimePointSec>().is_err());
        assert!("2026-11-24 03:07:15".parse::<TimePointSec>().is_err());
        assert!("1969-12-31T23:59:59".parse::<TimePointSec>().is_err());
    }

    proptest! {
        #[test]
        fn round_trips(secs in any::<u32>()) {
            let t = TimePointSec(secs);
            prop_assert_eq!(t.to_string().parse::<TimePointSec>().unwrap(), t);
        }
    }
}
