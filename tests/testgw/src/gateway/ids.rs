//! Ids, generated names and the clock.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// Random bytes from the kernel. Falls back to clock-derived bytes if
/// `/dev/urandom` cannot be read; uniqueness, not secrecy, is what matters.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if read.is_err() {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    buf
}

/// A random UUID v4 in its usual text form, like the real gateway's ids.
pub(crate) fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The name of the local sandbox backing gateway sandbox `id`. Derived from
/// the id rather than the name, so equal names in different workspaces do
/// not collide; short enough for the local backend's 19-character rule.
pub(crate) fn local_name(id: &str) -> String {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).take(16).collect();
    format!("gw-{hex}")
}

const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "eager", "fancy", "feasible", "gentle", "happy", "jolly", "keen", "lively",
    "mellow", "nimble", "proud", "quiet", "rapid", "shiny", "steady", "swift", "tidy", "vivid", "witty", "zesty",
];

const NOUNS: &[&str] = &[
    "badger",
    "beacon",
    "canyon",
    "comet",
    "falcon",
    "ferret",
    "garden",
    "harbor",
    "island",
    "lantern",
    "meadow",
    "otter",
    "pebble",
    "puffin",
    "raven",
    "retriever",
    "river",
    "rocket",
    "summit",
    "tiger",
    "tundra",
    "walrus",
    "willow",
    "yak",
];

/// A two-word name such as `feasible-retriever` (at most 19 characters, a
/// valid sandbox name), like the petnames the real gateway picks.
pub(crate) fn petname() -> String {
    let [a, n] = random_bytes::<2>();
    let adjective = ADJECTIVES[usize::from(a) % ADJECTIVES.len()];
    let noun = NOUNS[usize::from(n) % NOUNS.len()];
    format!("{adjective}-{noun}")
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::validate::sandbox_name;

    #[test]
    fn uuid_has_version_and_variant() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn every_petname_is_a_valid_sandbox_name() {
        for a in ADJECTIVES {
            for n in NOUNS {
                sandbox_name(&format!("{a}-{n}")).expect("valid");
            }
        }
        assert!(local_name(&uuid_v4()).len() <= 19);
    }
}
