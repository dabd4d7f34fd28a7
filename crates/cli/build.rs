//! Link options of the `abrs` binary.
//!
//! `-no-pie`: a position-independent executable has ~130,000 relative relocations (most of them
//! DuckDB's C++ vtables and tables), which the loader reads (3 MB of `.rela.dyn`) and applies
//! (2.3 MB of `.data.rel.ro` made private) in every process before `main`. A fixed-address
//! executable needs neither: `abrs --version` takes 12 MB instead of 17.5, and a
//! straight-through `abrs sync` stays under its 50 MB budget (docs/PERFORMANCE.md). The cost
//! is address-space randomization of the executable's own image (shared libraries, heap and
//! stacks stay randomized). Only the binary is linked so; tests and libraries keep the default.
fn main() {
    println!("cargo:rustc-link-arg-bin=abrs=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
