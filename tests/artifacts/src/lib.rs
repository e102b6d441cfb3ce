//! Paths of the test guests and example agents, built from source by this
//! crate's build script (see `build.rs`).

/// A component built for the tests, or why it could not be built.
///
/// A missing toolchain fails only the tests that use its components, with
/// what to install, never the build of everything else.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    name: &'static str,
    built: Result<&'static str, &'static str>,
}

impl Artifact {
    const fn built(name: &'static str, path: &'static str) -> Artifact {
        Artifact { name, built: Ok(path) }
    }

    #[allow(dead_code, reason = "used only when a toolchain is missing")]
    const fn missing(name: &'static str, why: &'static str) -> Artifact {
        Artifact { name, built: Err(why) }
    }

    /// The component's path.
    ///
    /// # Panics
    ///
    /// When the component could not be built because a toolchain was
    /// missing; the message says what to install.
    #[track_caller]
    pub fn path(&self) -> &'static str {
        match self.built {
            Ok(path) => path,
            Err(why) => panic!("the test component {} was not built: {why}", self.name),
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
