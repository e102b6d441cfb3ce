//! One snapshot step per run, so a test can change the tree in between:
//! `persist ROOT` prints the new snapshot's id; `hydrate ID ROOT` restores
//! it in place (replace mode).
use openshell_sandbox_guest::{Guest, HydrateMode, Sandbox, export};

struct Restore;

impl Guest for Restore {
    fn run(input: String) -> Result<String, String> {
        let sb = Sandbox::current();
        let words: Vec<&str> = input.split_whitespace().collect();
        match words.as_slice() {
            ["persist", root] => {
                sb.persist(root, &[]).map(|s| s.id).map_err(|e| format!("{} ({e})", test_programs::code(&e)))
            }
            ["hydrate", id, root] => sb
                .hydrate(id, root, HydrateMode::Replace)
                .map(|()| "restored".into())
                .map_err(|e| format!("{} ({e})", test_programs::code(&e))),
            _ => Err(format!("expected `persist ROOT` or `hydrate ID ROOT`, got {input:?}")),
        }
    }
}

export!(Restore);
