//! Asks for memory: `grow-4g` grows linear memory to 4 GiB at once
//! (`memory.grow`); a number N allocates and touches N MiB. The memory limit
//! must stop it.
use openshell_sandbox_guest::{Guest, export};

struct Hog;

impl Guest for Hog {
    fn run(input: String) -> Result<String, String> {
        if input.trim() == "grow-4g" {
            let before = core::arch::wasm32::memory_size(0);
            // Ask for everything a 32-bit memory can hold.
            let r = core::arch::wasm32::memory_grow(0, 65536 - before);
            return Ok(format!("memory.grow returned {r} (usize::MAX means refused)"));
        }
        let mib: usize = input.trim().parse().unwrap_or(1024);
        let mut v: Vec<u8> = Vec::new();
        v.try_reserve_exact(mib << 20).map_err(|e| format!("allocation refused: {e}"))?;
        v.resize(mib << 20, 1);
        Ok(format!("allocated {} MiB", v.len() >> 20))
    }
}

export!(Hog);
