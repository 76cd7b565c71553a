//! `Period`: a calendar month, shown as `YYYY-MM` and stored as its first day.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A month. Parsing at the boundary makes an invalid period unrepresentable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period(NaiveDate);

impl Period {
    /// Parses `YYYY-MM` (exactly; `2026-1` and `2026-13` are refused).
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4
            || y == "0000"
            || m.len() != 2
            || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1).map(Period)
    }

    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Self {
        Period(date.with_day(1).unwrap_or(date))
    }

    /// The first day of the month, as stored.
    pub fn first_day(self) -> NaiveDate {
        self.0
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.0.year(), self.0.month())
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Period::parse(&s).ok_or_else(|| serde::de::Error::custom("must be a month as YYYY-MM"))
    }
}

/// Serialises a stored first-of-month date as `YYYY-MM`.
pub fn serialize_as_period<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    Period::of(*date).serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_real_months() {
        assert_eq!(
            Period::parse("2026-11").map(|p| p.to_string()),
            Some("2026-11".into())
        );
        for bad in [
            "2026-13",
            "2026-1",
            "26-11",
            "2026-11-01",
            "abcd-ef",
            "",
            "2026-00",
        ] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
        let d = NaiveDate::from_ymd_opt(2026, 2, 17).unwrap();
        assert_eq!(Period::of(d).to_string(), "2026-02");
    }
}
