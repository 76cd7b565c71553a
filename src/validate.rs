//! Field checks shared by request DTOs. Each check appends to a list of
//! [`FieldError`]s so one `422` names every bad field at once.
//!
//! Also the serde helpers that refuse dates and timestamps outside the years
//! 0001..=9999 while parsing (docs/API.md §1), in bodies (`422`) and queries (`400`): chrono
//! parses far wider years than PostgreSQL stores, and date arithmetic on them panics.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use crate::error::{AppError, FieldError};

/// Only whitespace (Unicode White_Space, as `char::is_whitespace`). The OpenAPI document
/// states the same rule as an explicit character class rather than `\S`, whose meaning
/// differs between regex engines (ECMA counts U+FEFF, Python U+001C..=U+001F).
pub fn is_blank(value: &str) -> bool {
    value.chars().all(char::is_whitespace)
}

/// The years every date and timestamp must fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;
/// What a client is told when a year is out of range.
const YEAR_MESSAGE: &str = "year must be between 0001 and 9999";

/// A calendar value whose year can be checked.
pub trait HasYear {
    fn year_of(&self) -> i32;
}

impl HasYear for DateTime<Utc> {
    fn year_of(&self) -> i32 {
        self.year()
    }
}

impl HasYear for NaiveDate {
    fn year_of(&self) -> i32 {
        self.year()
    }
}

fn in_years<T: HasYear, E: serde::de::Error>(value: T) -> Result<T, E> {
    if YEARS.contains(&value.year_of()) {
        Ok(value)
    } else {
        Err(E::custom(YEAR_MESSAGE))
    }
}

/// A required date or timestamp (`deserialize_with = "validate::year_bounded"`).
pub fn year_bounded<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasYear,
{
    in_years(T::deserialize(d)?)
}

/// An optional one, `null` allowed (`#[serde(default, deserialize_with = ...)]`).
pub fn year_bounded_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasYear,
{
    Option::<T>::deserialize(d)?.map(in_years).transpose()
}

/// An optional one that may not be `null` (as `http::patch::non_null`).
pub fn year_bounded_non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasYear,
{
    in_years(T::deserialize(d)?).map(Some)
}

/// A clearable one in a partial update (as `http::patch::nullable`).
pub fn year_bounded_nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasYear,
{
    year_bounded_opt(d).map(Some)
}

/// Collects field errors; `finish` turns them into one `422 validation_failed`.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure for `field`.
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Length in characters (not bytes) within `min..=max`.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min || n > max {
            if min > 0 && value.trim().is_empty() {
                self.fail(field, "must not be empty");
            } else {
                self.fail(field, format!("must be {min} to {max} characters long"));
            }
        }
    }

    /// Text with at least one visible character and at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if is_blank(value) {
            self.fail(field, "must not be blank");
        } else {
            self.length(field, value, 1, max);
        }
    }

    /// A plausible email address: one `@`, a non-empty local part, a dotted domain, no
    /// spaces, at most 254 characters. Deliverability is not our business.
    pub fn email(&mut self, field: &str, value: &str) {
        let ok = value.chars().count() <= 254
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !ok {
            self.fail(field, "must be a valid email address");
        }
    }

    /// An integer within `min..=max`.
    pub fn range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        min: T,
        max: T,
    ) {
        if value < min || value > max {
            self.fail(field, format!("must be between {min} and {max}"));
        }
    }

    /// Parses an optional query value (an enum such as a status or a role): `None` when
    /// absent, and a failure of `field` with `message` when the value is not known.
    pub fn choice<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl Fn(&str) -> Option<T>,
        message: &str,
    ) -> Option<T> {
        let value = raw?;
        let parsed = parse(value);
        if parsed.is_none() {
            self.fail(field, message);
        }
        parsed
    }

    /// `Ok` when nothing failed, else a `422` listing every failure.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_outside_0001_to_9999_are_refused() {
        #[derive(Debug, Deserialize)]
        struct B {
            #[serde(default, deserialize_with = "year_bounded_opt")]
            at: Option<DateTime<Utc>>,
            #[serde(default, deserialize_with = "year_bounded_non_null")]
            day: Option<NaiveDate>,
        }
        let ok: B =
            serde_json::from_str(r#"{"at":"9999-12-31T23:59:59Z","day":"0001-01-01"}"#).unwrap();
        assert!(ok.at.is_some() && ok.day.is_some());
        assert!(
            serde_json::from_str::<B>(r#"{"at":null}"#)
                .unwrap()
                .at
                .is_none()
        );
        for bad in [
            r#"{"at":"-5000-01-01T00:00:00Z"}"#,
            r#"{"at":"+10000-01-01T00:00:00Z"}"#,
            r#"{"at":"0001-01-01T00:00:00+01:00"}"#,
            r#"{"day":"-262143-01-01"}"#,
            r#"{"day":"0000-01-01"}"#,
            r#"{"day":null}"#,
        ] {
            assert!(serde_json::from_str::<B>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "first.last+tag@example.org"] {
            let mut c = Checks::new();
            c.email("email", good);
            assert!(c.finish().is_ok(), "{good}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@.co", "a@b.co.",
        ] {
            let mut c = Checks::new();
            c.email("email", bad);
            assert!(c.finish().is_err(), "{bad}");
        }
    }

    #[test]
    fn lengths_count_characters_and_collect_every_field() {
        let mut c = Checks::new();
        c.length("name", "ééé", 1, 3);
        c.text("title", "   ", 10);
        c.range("priority", 11, 0, 10);
        match c.finish() {
            Err(AppError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["title", "priority"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn choice_parses_known_values_and_names_unknown_ones() {
        let parse = |s: &str| (s == "a").then_some(1);
        let mut c = Checks::new();
        assert_eq!(c.choice("f", None, parse, "must be a"), None);
        assert_eq!(c.choice("f", Some("a"), parse, "must be a"), Some(1));
        assert!(c.finish().is_ok());
        let mut c = Checks::new();
        assert_eq!(c.choice("f", Some("b"), parse, "must be a"), None);
        match c.finish() {
            Err(AppError::Validation(e)) => assert_eq!(
                (e[0].field.as_str(), e[0].message.as_str()),
                ("f", "must be a")
            ),
            other => panic!("{other:?}"),
        }
    }
}
