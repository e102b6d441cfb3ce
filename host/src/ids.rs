//! Random ids: of runs, of local sandboxes, of snapshots.
//!
//! A run's id labels every sandbox the run creates, and cleanup deletes the
//! sandboxes that carry it, so two runs must never share one. An id that
//! cannot be made random is therefore an error, never a fixed fallback.

/// Random bytes in an id: 64 bits, so that ids of concurrent runs do not
/// collide in practice (32 bits would, among a few tens of thousands).
const RANDOM_BYTES: usize = 8;

/// The operating system could not supply the random bytes for an id.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot make a unique `{prefix}-…` id: the operating system's random source failed ({source}); \
     check that this process may call getrandom(2) or read /dev/urandom (a seccomp filter or a \
     chroot without /dev can prevent it)"
)]
pub struct IdError {
    prefix: String,
    source: getrandom::Error,
}

/// `<prefix>-<16 hex digits>`, from the operating system's random source.
pub fn random_id(prefix: &str) -> Result<String, IdError> {
    id_from(prefix, getrandom::fill)
}

/// [`random_id`] with the random source passed in, so that its failure can
/// be tested.
fn id_from(prefix: &str, fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>) -> Result<String, IdError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    fill(&mut bytes).map_err(|source| IdError { prefix: prefix.to_string(), source })?;
    Ok(format!("{prefix}-{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::error::Error as _;

    use super::*;

    #[test]
    fn ids_are_well_formed_and_distinct() {
        let ids: HashSet<String> = (0..10_000).map(|_| random_id("run").unwrap()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            let hex = id.strip_prefix("run-").unwrap_or_else(|| panic!("{id}"));
            assert_eq!(hex.len(), 2 * RANDOM_BYTES, "{id}");
            assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id}");
        }
    }

    #[test]
    fn a_failed_random_source_is_an_error_not_an_id() {
        let e = id_from("run", |_| Err(getrandom::Error::UNSUPPORTED)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("`run-…`") && text.contains("random source failed"), "{text}");
        assert!(text.contains("getrandom(2)"), "says what to check: {text}");
        let source = e.source().and_then(|s| s.downcast_ref::<getrandom::Error>());
        assert_eq!(source, Some(&getrandom::Error::UNSUPPORTED));
    }
}
