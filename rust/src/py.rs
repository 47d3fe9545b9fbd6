//! `pushwire._native.Decoder`: the Python face of [`crate::decode::Engine`].

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};

use crate::build::{Builder, PyParts};
use crate::decode::{Engine, FrameOut, Limits, Numbers, State};
use crate::error::Failure;
use crate::plan::Plan;

const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_MAX_INFLATED_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_MAX_DEPTH: usize = 128;
/// A single frame at least this large is decoded with the GIL released.
const DETACH_MIN_BYTES: usize = 32 * 1024;
/// decode_many takes frames from its iterable this many at a time...
const CHUNK: usize = 1024;
/// ... and builds Python objects after about this many events. Each batch is decoded with the
/// GIL released; taking the GIL back may wait for another thread's switch interval (5 ms) when
/// a CPU-bound thread wants it, so batches are large enough to make that wait rare. (16 would
/// save ~3% instructions per one-event frame, as fewer frames' slots are alive at once and
/// their allocations recycle, but would wait for the GIL 16 times as often.)
const EVENT_BUDGET: usize = 256;
/// Plans parsed in this process, keyed by their text.
const PLAN_CACHE_MAX: usize = 8;

static PLANS: Mutex<Vec<(String, Arc<Plan>)>> = Mutex::new(Vec::new());

fn load_plan(py: Python<'_>, text: &str) -> PyResult<Arc<Plan>> {
    {
        let cache = PLANS
            .lock_py_attached(py)
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, plan)) = cache.iter().find(|(t, _)| t == text) {
            return Ok(plan.clone());
        }
    }
    let plan = Arc::new(
        py.detach(|| Plan::from_json(text))
            .map_err(|e| PyValueError::new_err(e.to_string()))?,
    );
    let mut cache = PLANS
        .lock_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= PLAN_CACHE_MAX {
        cache.remove(0);
    }
    cache.push((text.to_owned(), plan.clone()));
    Ok(plan)
}

/// An argument as given: `None` is a value here, not "not given" (the reference decoder refuses
/// `numbers=None`).
pub enum Arg {
    Missing,
    Given(Py<PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Arg::Given(obj.to_owned().unbind()))
    }
}

/// A frame as received, held for the duration of a call.
enum Held<'py> {
    Bytes(Bound<'py, PyBytes>),
    Str(Bound<'py, PyString>),
}

impl Held<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Bytes(b) => b.as_bytes(),
            // Checked by `hold`: to_str succeeds.
            Held::Str(s) => s.to_str().map(str::as_bytes).unwrap_or_default(),
        }
    }
}

/// `PyDecoder._bytes`: Ok(Err(failure)) is a frame the decoder refuses (text that is not
/// Unicode); Err is an exception raised as is (the wrong type).
fn hold<'py>(frame: &Bound<'py, PyAny>) -> PyResult<Result<Held<'py>, Failure>> {
    if let Ok(b) = frame.cast::<PyBytes>() {
        return Ok(Ok(Held::Bytes(b.clone())));
    }
    if let Ok(s) = frame.cast::<PyString>() {
        return Ok(match s.to_str() {
            Ok(_) => Ok(Held::Str(s.clone())),
            Err(_) => Err(Failure::frame(
                "frame text is not valid Unicode: surrogates not allowed",
            )),
        });
    }
    if frame.is_instance_of::<PyByteArray>() || frame.is_instance_of::<PyMemoryView>() {
        // bytes(frame): a copy, so no other thread can change it while the GIL is released.
        // SAFETY: `frame` is a live object; PyBytes_FromObject returns a new reference or NULL.
        let b = unsafe {
            Bound::from_owned_ptr_or_err(frame.py(), ffi::PyBytes_FromObject(frame.as_ptr()))?
        };
        return Ok(Ok(Held::Bytes(b.cast_into::<PyBytes>()?)));
    }
    let name = frame
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned());
    Err(PyTypeError::new_err(format!(
        "a frame is bytes or str, not {name}"
    )))
}

/// `PyDecoder._check_recv_ts`: an int (exactly) or None.
fn check_recv_ts(recv_ts: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let Some(r) = recv_ts else { return Ok(()) };
    // SAFETY: `r` is a live object; PyLong_CheckExact only reads its type.
    if r.is_none() || unsafe { ffi::PyLong_CheckExact(r.as_ptr()) } != 0 {
        return Ok(());
    }
    let name = r
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned());
    Err(PyTypeError::new_err(format!(
        "recv_ts is an int (ms) or None, not {name}"
    )))
}

/// Decode frames of one exchange by running the generated decode plan.
///
/// The same semantics as `pushwire._pydecode.PyDecoder`, which is its reference.
#[pyclass(frozen, name = "Decoder", module = "pushwire._native")]
pub struct Decoder {
    engine: Engine,
    /// The engine's state (symbol cache, parse buffers). `decode`'s own inflate and frame
    /// buffers are kept in the builder's cache instead, which a call holds from start to end
    /// anyway: putting them back takes no second lock.
    state: Mutex<State>,
    parts: PyParts,
    #[pyo3(get)]
    exchange: String,
    #[pyo3(get)]
    numbers: String,
}

impl Decoder {
    /// Decode frames from the start of `inputs` (called with the GIL released) until about
    /// `EVENT_BUDGET` events are out, a frame fails, or the inputs end; returns the results and
    /// how many frames they cover. Results borrow the inputs, the plan and, for gzip frames,
    /// their own inflate buffer (`bufs[i]` for `inputs[i]`, kept from batch to batch).
    fn run_batch<'a>(
        &'a self,
        inputs: &[&'a [u8]],
        bufs: &'a mut [Vec<u8>],
        pool: &mut Vec<FrameOut<'static>>,
    ) -> (Vec<FrameOut<'a>>, usize) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *st;
        let mut outs = Vec::with_capacity(inputs.len().min(EVENT_BUDGET));
        let mut events = 0;
        for (&input, buf) in inputs.iter().zip(bufs.iter_mut()) {
            let mut out: FrameOut<'a> = pool.pop().unwrap_or_default();
            self.engine.decode_reusing(st, input, buf, &mut out);
            let failed = out.failure.is_some();
            events += out.events.len();
            outs.push(out);
            if failed || events >= EVENT_BUDGET {
                break;
            }
        }
        let n = outs.len();
        (outs, n)
    }
}

#[pymethods]
impl Decoder {
    #[new]
    #[pyo3(signature = (
        exchange,
        numbers = Arg::Missing,
        *,
        max_frame_bytes = DEFAULT_MAX_FRAME_BYTES,
        max_inflated_bytes = DEFAULT_MAX_INFLATED_BYTES,
        max_depth = DEFAULT_MAX_DEPTH,
        plan_json = None,
    ),
    text_signature = "(exchange, numbers='float', *, max_frame_bytes=16777216, max_inflated_bytes=16777216, \
                      max_depth=128, plan_json=None)")]
    fn new(
        py: Python<'_>,
        exchange: &Bound<'_, PyAny>,
        numbers: Arg,
        max_frame_bytes: usize,
        max_inflated_bytes: usize,
        max_depth: usize,
        plan_json: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let plan = match plan_json {
            Some(text) if !text.is_none() => load_plan(py, text.cast::<PyString>()?.to_str()?)?,
            _ => {
                let text = py
                    .import("pushwire._generated.plan")?
                    .getattr("PLAN_JSON")?;
                load_plan(py, text.cast::<PyString>()?.to_str()?)?
            }
        };
        exchange.hash()?; // an unhashable exchange is a TypeError, as `in dict` makes it
        let name = exchange
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok())
            .filter(|n| plan.exchange(n).is_some());
        let Some(name) = name else {
            return Err(PyValueError::new_err(format!(
                "unknown exchange {} (known: {})",
                exchange.repr()?,
                plan.known()
            )));
        };
        let mode = match &numbers {
            Arg::Missing => Some(Numbers::Float),
            Arg::Given(n) => n
                .bind(py)
                .cast::<PyString>()
                .ok()
                .and_then(|s| s.to_str().ok())
                .and_then(Numbers::parse),
        };
        let Some(mode) = mode else {
            let shown = match &numbers {
                Arg::Given(n) => n.bind(py).repr()?.to_string(),
                Arg::Missing => "None".to_owned(),
            };
            return Err(PyValueError::new_err(format!(
                "numbers must be 'float' or 'decimal', not {shown}"
            )));
        };
        let int_max_str_digits: usize = py
            .import("sys")?
            .call_method0("get_int_max_str_digits")?
            .extract()?;
        let limits = Limits {
            max_frame_bytes,
            max_inflated_bytes,
            max_depth,
            int_max_str_digits,
        };
        let exchange_name = name.to_owned();
        let Some(engine) = Engine::new(plan, &exchange_name, mode, limits) else {
            return Err(PyValueError::new_err(format!(
                "unknown exchange {exchange_name:?}"
            )));
        };
        // The state and the builder share the symbol texts.
        let st = State::default();
        let parts = PyParts::new(py, &engine.plan, engine.ex, st.symbol_texts())?;
        Ok(Decoder {
            engine,
            state: Mutex::new(st),
            parts,
            exchange: exchange_name,
            numbers: match mode {
                Numbers::Float => "float".to_owned(),
                Numbers::Decimal => "decimal".to_owned(),
            },
        })
    }

    #[getter]
    fn max_frame_bytes(&self) -> usize {
        self.engine.limits.max_frame_bytes
    }

    #[getter]
    fn max_inflated_bytes(&self) -> usize {
        self.engine.limits.max_inflated_bytes
    }

    #[getter]
    fn max_depth(&self) -> usize {
        self.engine.limits.max_depth
    }

    /// Decode one frame (text, UTF-8 bytes or gzip bytes) into events.
    #[pyo3(signature = (frame, *, recv_ts = None))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        frame: &Bound<'py, PyAny>,
        recv_ts: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        check_recv_ts(recv_ts.as_ref())?;
        let mut builder = Builder::new(py, &self.parts, recv_ts);
        let held = match hold(frame)? {
            Ok(h) => h,
            Err(f) => return Err(builder.failure(f)),
        };
        let input = held.bytes();
        // Decode into the kept buffers and let go of the state lock before building: building
        // may run Python code (a finalizer) that calls this decoder again.
        let (mut scratch, kept) = builder.take_frame_buffers();
        let scratch_ref = &mut scratch;
        let mut out: FrameOut<'_> = kept;
        let out_ref = &mut out;
        if input.len() >= DETACH_MIN_BYTES {
            py.detach(move || {
                let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                self.engine
                    .decode_reusing(&mut st, input, scratch_ref, out_ref);
            });
        } else {
            let mut st = self
                .state
                .lock_py_attached(py)
                .unwrap_or_else(PoisonError::into_inner);
            self.engine
                .decode_reusing(&mut st, input, scratch_ref, out_ref);
        }
        let built = builder.frame_list(&mut out);
        let out = out.recycle();
        builder.keep_frame_buffers(scratch, out);
        built
    }

    /// Decode frames in order; the events of all of them, flattened. The bytes-level work of
    /// each batch runs with the GIL released.
    #[pyo3(signature = (frames, *, recv_ts = None))]
    fn decode_many<'py>(
        &self,
        py: Python<'py>,
        frames: &Bound<'py, PyAny>,
        recv_ts: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut builder = Builder::new(py, &self.parts, recv_ts);
        let mut iter = frames.try_iter()?;
        // One inflate buffer per frame of a batch, reused by the next batches; so are the
        // frames' event and slot buffers (no allocation per frame).
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        let mut pool: Vec<FrameOut<'static>> = Vec::new();
        loop {
            let mut held: Vec<Held<'py>> = Vec::new();
            let mut stop: Option<PyErr> = None;
            let mut exhausted = false;
            while held.len() < CHUNK {
                match iter.next() {
                    None => {
                        exhausted = true;
                        break;
                    }
                    Some(Err(e)) => {
                        stop = Some(e);
                        break;
                    }
                    Some(Ok(item)) => {
                        match check_recv_ts(builder.recv_ts()).and_then(|()| hold(&item)) {
                            Ok(Ok(h)) => held.push(h),
                            Ok(Err(f)) => {
                                stop = Some(builder.failure(f));
                                break;
                            }
                            Err(e) => {
                                stop = Some(e);
                                break;
                            }
                        }
                    }
                }
            }
            let inputs: Vec<&[u8]> = held.iter().map(Held::bytes).collect();
            let mut start = 0;
            while start < inputs.len() {
                let rest = &inputs[start..];
                if bufs.len() < rest.len() {
                    bufs.resize_with(rest.len(), Vec::new);
                }
                let batch_bufs = &mut bufs[..rest.len()];
                let (outs, n) = py.detach(|| self.run_batch(rest, batch_bufs, &mut pool));
                for mut out in outs {
                    let built = builder.frame(&mut out);
                    pool.push(out.recycle());
                    built?;
                }
                start += n.max(1);
            }
            if let Some(e) = stop {
                return Err(e);
            }
            if exhausted {
                return builder.take_list();
            }
        }
    }

    /// Private (tests): how each event kind is built, {kind: "direct" | "call" | "missing"}.
    fn _build_paths<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (kind, path) in self.parts.build_paths() {
            d.set_item(kind, path)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "<pushwire._native.Decoder {:?} numbers={:?}>",
            self.exchange, self.numbers
        )
    }
}
