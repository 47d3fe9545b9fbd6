//! `pushwire._native`: the Rust hot path of pushwire.
//!
//! One generic decoder runs the generated decode plan (`pushwire._generated.plan.PLAN_JSON`,
//! loaded at runtime): gzip inflate, JSON, routing, field mapping and conversion. It knows no
//! exchange: a spec change is a regenerated plan, never a Rust change.
//!
//! Layout: [`json`], [`tape`], [`inflate`], [`text`], [`plan`] and [`decode`] are the byte-level
//! decoder and hold no PyO3 type (unit-tested and fuzzable in pure Rust, `--no-default-features`);
//! `build` turns its slots into Python objects and `py` is the `Decoder` class. This file is
//! bindings only. Frames are parsed into a [`tape`] (the hot path); [`json`]'s tree of values is
//! for the plan and for tests, and accepts exactly the same texts.

pub mod decode;
pub mod error;
pub mod inflate;
pub mod json;
pub mod plan;
pub mod tape;
pub mod text;

#[cfg(test)]
mod testutil;

#[cfg(feature = "python")]
mod build;
#[cfg(feature = "python")]
mod py;

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<py::Decoder>()?;
    Ok(())
}
