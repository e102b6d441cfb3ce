//! Spins forever in guest code: the CPU or wall-clock limit must stop it.
use openshell_sandbox_guest::{Guest, export};

struct Spin;

impl Guest for Spin {
    fn run(_input: String) -> Result<String, String> {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

export!(Spin);
