//! `pushwire._native`: the Rust hot path of pushwire. Bindings only; the decoder lives in
//! modules that hold no PyO3 types.

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
