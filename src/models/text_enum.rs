//! `text_enum!`: a closed set of values stored in a `text` column.
//!
//! The pattern of crates.io's `pg_enum!`, but over `Text` rather than a PostgreSQL enum
//! type, so the schema keeps its `CHECK (col IN (...))` constraints (and Citus, backups
//! and the tenant export keep seeing plain text). One declaration gives the Rust enum,
//! its wire name (`as_str`, `Display`, `FromStr`, serde), its OpenAPI `enum` (utoipa
//! reads the same serde names) and Diesel's `ToSql`/`FromSql` for `Text`, so rows carry
//! the enum itself and no code compares or re-parses the strings.

/// Declares an enum whose every variant has one wire/database spelling.
///
/// ```text
/// text_enum! {
///     /// A task's status.
///     pub enum TaskStatus { Pending = "pending", InProgress = "in_progress" }
/// }
/// ```
///
/// Each spelling is matched as a token tree, not a `literal` fragment: a `literal` reaches
/// derive macros wrapped in an invisible group, which utoipa does not read as a
/// `#[serde(rename)]` (the OpenAPI `enum` then lists the Rust variant names).
///
/// A value the database returns that is not one of the spellings (impossible while the
/// `CHECK` constraint stands) is a deserialization error of the query, not a panic.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema,
            ::diesel::expression::AsExpression, ::diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value spelled `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg>
            for $name
        {
            fn from_sql(
                bytes: <::diesel::pg::Pg as ::diesel::backend::Backend>::RawValue<'_>,
            ) -> ::diesel::deserialize::Result<Self> {
                let raw = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    ::diesel::pg::Pg,
                >>::from_sql(bytes)?;
                $name::parse(&raw).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " {:?}"), raw).into()
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        /// A test set.
        enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn spellings_round_trip_through_every_form() {
        for &c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            assert_eq!(c.to_string(), c.as_str());
            let json = serde_json::to_string(&c).expect("serialize");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Colour>(&json).ok(), Some(c));
        }
        assert_eq!(Colour::parse("Red"), None);
        assert!(serde_json::from_str::<Colour>("\"darkBlue\"").is_err());
    }
}
