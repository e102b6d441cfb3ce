//! How the policy document's values are written and checked. Checks run
//! while the document is read (serde `deserialize_with` and visitors), so
//! serde_yaml puts the line and column of the offending value in the error.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Error, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{BinaryDoc, MatcherDoc};

/// L7 protocols the gateway inspects (empty and `tcp` mean L4 only).
pub const PROTOCOLS: &[&str] = &["tcp", "rest", "websocket", "graphql", "sql", "json-rpc", "mcp"];

// Each check runs inside the visitor of its scalar: serde_yaml gives an
// error raised there the scalar's own position (one raised after
// deserializing would get the enclosing map's).

pub(super) fn host<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(Checked("a host", |h| {
        if h.trim().is_empty() {
            Err("an endpoint needs a host (a name or a glob such as `*.example.com`)".into())
        } else {
            Ok(())
        }
    }))
}

pub(super) fn protocol<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(Checked("a protocol", |v| one_of(v, "protocol", PROTOCOLS)))
}

pub(super) fn persisted_queries<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(Checked("a persisted-queries mode", |v| {
        one_of(v, "persisted_queries", &["deny", "allow_registered"])
    }))
}

pub(super) fn credential_signing<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(Checked("a signing scheme", |v| one_of(v, "credential_signing", &["sigv4"])))
}

fn one_of(v: &str, field: &str, allowed: &[&str]) -> Result<(), String> {
    if v.is_empty() || allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!("{field} `{v}` is not one of {}", allowed.join(", ")))
    }
}

/// A string with a check.
struct Checked(&'static str, fn(&str) -> Result<(), String>);

impl Visitor<'_> for Checked {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<String, E> {
        (self.1)(v).map_err(E::custom)?;
        Ok(v.to_string())
    }
}

pub(super) fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    Port::deserialize(d).map(|p| p.0)
}

pub(super) fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    Ok(Vec::<Port>::deserialize(d)?.into_iter().map(|p| p.0).collect())
}

/// A port, 1-65535.
struct Port(u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port (1-65535)")
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Port, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(Port(p)),
                    _ => Err(E::custom(format!("port {v} is not 1-65535"))),
                }
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Port, E> {
                Err(E::custom(format!("port {v} is not 1-65535")))
            }
        }
        d.deserialize_u64(V)
    }
}

/// The full form of a binary.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BinaryMap {
    path: String,
    #[serde(default)]
    harness: bool,
}

impl TryFrom<BinaryMap> for BinaryDoc {
    type Error = String;
    fn try_from(m: BinaryMap) -> Result<Self, String> {
        if !m.path.starts_with('/') {
            return Err(format!("binary `{}` must be an absolute path", m.path));
        }
        Ok(BinaryDoc { path: m.path, harness: m.harness })
    }
}

impl TryFrom<String> for BinaryDoc {
    type Error = String;
    fn try_from(path: String) -> Result<Self, String> {
        BinaryDoc::try_from(BinaryMap { path, harness: false })
    }
}

impl<'de> Deserialize<'de> for BinaryDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap::<BinaryDoc, BinaryMap>(PhantomData, "a path or {path, harness}"))
    }
}

impl Serialize for BinaryDoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !self.harness {
            return s.serialize_str(&self.path);
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("harness", &true)?;
        m.end()
    }
}

/// The full form of a matcher.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatcherMap {
    #[serde(default)]
    glob: String,
    #[serde(default)]
    any: Vec<String>,
}

impl TryFrom<MatcherMap> for MatcherDoc {
    type Error = String;
    fn try_from(m: MatcherMap) -> Result<Self, String> {
        Ok(MatcherDoc { glob: m.glob, any: m.any })
    }
}

impl TryFrom<String> for MatcherDoc {
    type Error = String;
    fn try_from(glob: String) -> Result<Self, String> {
        Ok(MatcherDoc { glob, any: Vec::new() })
    }
}

impl<'de> Deserialize<'de> for MatcherDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrMap::<MatcherDoc, MatcherMap>(PhantomData, "a glob or {glob, any}"))
    }
}

impl Serialize for MatcherDoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.any.is_empty() {
            return s.serialize_str(&self.glob);
        }
        let mut m = s.serialize_map(None)?;
        if !self.glob.is_empty() {
            m.serialize_entry("glob", &self.glob)?;
        }
        m.serialize_entry("any", &self.any)?;
        m.end()
    }
}

/// A value written either as a string or as a map (`F`), as OpenShell's
/// policy files allow for binaries and matchers.
struct StringOrMap<T, F>(PhantomData<(T, F)>, &'static str);

impl<'de, T, F> Visitor<'de> for StringOrMap<T, F>
where
    T: TryFrom<String, Error = String> + TryFrom<F, Error = String>,
    F: Deserialize<'de>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
        T::try_from(v.to_string()).map_err(E::custom)
    }

    fn visit_map<M: MapAccess<'de>>(self, m: M) -> Result<T, M::Error> {
        T::try_from(F::deserialize(MapAccessDeserializer::new(m))?).map_err(M::Error::custom)
    }
}
