//! Slots -> Python objects, in one place: the msgspec event Structs (called with vectorcall and
//! a keyword-name tuple built once per kind), `decimal.Decimal(text)`, and the exceptions.

use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::decode::{Event, FrameOut, Shape, Slot, SymbolTexts};
use crate::error::{Failure, FailureKind};
use crate::json::Value;
use crate::plan::Plan;

static DECODE_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DECIMAL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn import_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    attr: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import(module)?.getattr(attr)?.unbind())
    })
    .map(|o| o.bind(py))
}

/// The Python objects a decoder builds with, made once per decoder.
pub struct PyParts {
    pub exchange: Py<PyString>,
    /// Per plan kind: the class from `EVENT_CLASSES` (None: missing, a KeyError when used),
    /// the keyword names (the kind's fields) and the kind's name.
    kinds: Vec<(Option<Py<PyAny>>, Py<PyTuple>, String)>,
    /// Per text frame of the exchange: its class and kind name.
    text_frames: Vec<(Option<Py<PyAny>>, String)>,
    unrecognized: Option<Py<PyAny>>,
    /// How to fill instances directly, per plan kind, per text frame and for `unrecognized`
    /// (None: the class is called instead).
    direct_kinds: Vec<Option<Direct>>,
    direct_text_frames: Vec<Option<Direct>>,
    direct_unrecognized: Option<Direct>,
    heartbeat_names: Py<PyTuple>,
    unrecognized_names: Py<PyTuple>,
    /// Enum values (interned str), by [`Plan::strings`] id.
    strings: Vec<Py<PyString>>,
    /// Plan constants, by [`Plan::consts`] id: one object shared by every event, as the
    /// reference decoder shares its plan's objects.
    consts: Vec<Py<PyAny>>,
    /// Python strings of the symbol cache, keyword-name tuples and the buffers a call reuses
    /// (see [`BuildCache`]).
    /// Only ever try-locked (never waited for), so it cannot deadlock with the GIL.
    cache: Mutex<BuildCache>,
    /// The symbol cache's texts (shared with the decoder's state): read only to make a
    /// symbol's Python string the first time, or when `cache` is busy.
    symbol_texts: SymbolTexts,
    /// Per plan kind and field: the field's default when it is None, True or False (a value
    /// that is this very object is left out of the call, so msgspec fills in the same default
    /// and matches fewer keywords).
    defaults: Vec<Vec<Option<Py<PyAny>>>>,
    /// The most fields of any kind (the keyword buffer's size).
    max_fields: usize,
}

impl PyParts {
    pub fn new(
        py: Python<'_>,
        plan: &Plan,
        ex: usize,
        symbol_texts: SymbolTexts,
    ) -> PyResult<PyParts> {
        let classes = py
            .import("pushwire._generated.events")?
            .getattr("EVENT_CLASSES")?;
        let class = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            match classes.get_item(name) {
                Ok(c) => Ok(Some(c.unbind())),
                Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let names = |fields: &[&str]| -> PyResult<Py<PyTuple>> {
            let interned: Vec<Bound<'_, PyString>> =
                fields.iter().map(|f| PyString::intern(py, f)).collect();
            Ok(PyTuple::new(py, interned)?.unbind())
        };
        let direct = |cls: &Option<Py<PyAny>>, fields: &[&str]| -> PyResult<Option<Direct>> {
            match cls {
                Some(c) if direct_allowed() => Direct::new(c.bind(py), fields),
                _ => Ok(None),
            }
        };
        let mut kinds = Vec::with_capacity(plan.kinds.len());
        let mut defaults = Vec::with_capacity(plan.kinds.len());
        let mut direct_kinds = Vec::with_capacity(plan.kinds.len());
        for k in &plan.kinds {
            let fields: Vec<&str> = k.fields.iter().map(String::as_str).collect();
            let cls = class(&k.name)?;
            defaults.push(match &cls {
                Some(c) => singleton_defaults(c.bind(py), &fields),
                None => fields.iter().map(|_| None).collect(),
            });
            direct_kinds.push(direct(&cls, &fields)?);
            kinds.push((cls, names(&fields)?, k.name.clone()));
        }
        let (name, exchange) = &plan.exchanges[ex];
        let mut text_frames = Vec::with_capacity(exchange.text_frames.len());
        let mut direct_text_frames = Vec::with_capacity(exchange.text_frames.len());
        for tf in &exchange.text_frames {
            let cls = class(&tf.kind)?;
            direct_text_frames.push(direct(&cls, &HEARTBEAT_FIELDS)?);
            text_frames.push((cls, tf.kind.clone()));
        }
        let unrecognized = class("unrecognized")?;
        let direct_unrecognized = direct(&unrecognized, &UNRECOGNIZED_FIELDS)?;
        let strings = plan
            .strings
            .iter()
            .map(|s| PyString::intern(py, s).unbind())
            .collect();
        let mut consts = Vec::with_capacity(plan.consts.len());
        for c in &plan.consts {
            consts.push(json_value(py, c)?.unbind());
        }
        Ok(PyParts {
            exchange: PyString::intern(py, name).unbind(),
            kinds,
            text_frames,
            unrecognized,
            direct_kinds,
            direct_text_frames,
            direct_unrecognized,
            heartbeat_names: names(&HEARTBEAT_FIELDS)?,
            unrecognized_names: names(&UNRECOGNIZED_FIELDS)?,
            strings,
            consts,
            cache: Mutex::new(BuildCache::default()),
            symbol_texts,
            defaults,
            max_fields: plan
                .kinds
                .iter()
                .map(|k| k.fields.len())
                .max()
                .unwrap_or(0)
                .max(4),
        })
    }
}

/// The slots of [`Shape::TextFrame`] and [`Shape::Unrecognized`] events.
const HEARTBEAT_FIELDS: [&str; 3] = ["exchange", "ts", "reply"];
const UNRECOGNIZED_FIELDS: [&str; 4] = ["exchange", "ts", "topic", "raw"];

impl PyParts {
    /// Per event kind this decoder can emit: "direct" when its instances are filled directly,
    /// "call" when its class is called, "missing" when `EVENT_CLASSES` lacks it.
    pub fn build_paths(&self) -> Vec<(&str, &'static str)> {
        let path = |cls: &Option<Py<PyAny>>, d: &Option<Direct>| match (cls, d) {
            (None, _) => "missing",
            (Some(_), Some(_)) => "direct",
            (Some(_), None) => "call",
        };
        let kinds = self.kinds.iter().zip(&self.direct_kinds);
        let texts = self.text_frames.iter().zip(&self.direct_text_frames);
        kinds
            .map(|((c, _, name), d)| (name.as_str(), path(c, d)))
            .chain(texts.map(|((c, name), d)| (name.as_str(), path(c, d))))
            .chain([(
                "unrecognized",
                path(&self.unrecognized, &self.direct_unrecognized),
            )])
            .collect()
    }
}

/// Python objects made while building, kept between calls.
#[derive(Default)]
pub struct BuildCache {
    /// The symbol cache's strings: `2 * id` the unified symbol, `2 * id + 1` the raw one.
    symbols: Vec<Option<Py<PyString>>>,
    /// Per plan kind: keyword-name tuples without the fields of a mask (bit i: field i left out).
    kwnames: Vec<Vec<(u64, Py<PyTuple>)>>,
    /// The builders' buffers, kept so that a call allocates none.
    values: PtrBuf,
    objects: PtrBuf,
    /// `decode`'s inflate buffer and its frame's event and slot buffers (kept empty).
    inflated: Vec<u8>,
    frame: Option<FrameOut<'static>>,
}

/// An inflate buffer up to this size is kept for the next call.
const KEEP_INFLATED_BYTES: usize = 1 << 20;
/// Slot buffers up to this many slots are kept for the next call (32 bytes each).
const KEEP_SLOTS: usize = 1 << 15;

/// A buffer of object pointers, reused from call to call; empty whenever it is in the cache.
#[derive(Default)]
struct PtrBuf(Vec<*mut ffi::PyObject>);

// SAFETY: a PtrBuf in the cache is always empty (a Builder releases what it holds before
// putting it back), so moving it to another thread moves an allocation, not object references.
unsafe impl Send for PtrBuf {}

/// Keyword-name tuples kept per kind.
const KWNAMES_PER_KIND: usize = 16;

/// Builds the events of one call (`recv_ts` and the current time are per call).
pub struct Builder<'py, 'p> {
    py: Python<'py>,
    parts: &'p PyParts,
    recv_ts: Option<Bound<'py, PyAny>>,
    now: Option<Bound<'py, PyAny>>,
    /// The decoder's build cache, held for the whole call (None: another call holds it).
    cache: Option<MutexGuard<'p, BuildCache>>,
    /// The field values of the event being built (new references), reused.
    values: Vec<*mut ffi::PyObject>,
    /// The events of the frame being built (new references), reused.
    objects: Vec<*mut ffi::PyObject>,
}

impl Drop for Builder<'_, '_> {
    fn drop(&mut self) {
        release(&mut self.values);
        release(&mut self.objects);
        if let Some(cache) = self.cache.as_mut() {
            cache.values.0 = std::mem::take(&mut self.values);
            cache.objects.0 = std::mem::take(&mut self.objects);
        }
    }
}

/// Release the references in `values` (new references this builder owns).
fn release(values: &mut Vec<*mut ffi::PyObject>) {
    for p in values.drain(..) {
        // SAFETY: every pointer in `values` is a new reference from `Bound::into_ptr`, owned
        // here and released once.
        unsafe { ffi::Py_DECREF(p) };
    }
}

impl<'py, 'p> Builder<'py, 'p> {
    pub fn new(py: Python<'py>, parts: &'p PyParts, recv_ts: Option<Bound<'py, PyAny>>) -> Self {
        let mut cache = match parts.cache.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None, // another thread builds: no cache this call
        };
        let (values, objects) = match cache {
            Some(ref mut c) => (
                std::mem::take(&mut c.values.0),
                std::mem::take(&mut c.objects.0),
            ),
            None => (Vec::with_capacity(parts.max_fields), Vec::new()),
        };
        Builder {
            py,
            parts,
            recv_ts: recv_ts.filter(|r| !r.is_none()),
            now: None,
            cache,
            values,
            objects,
        }
    }

    /// `decode`'s kept inflate buffer (empty) and frame buffers; new ones when this builder has
    /// no cache (another call holds it).
    pub fn take_frame_buffers(&mut self) -> (Vec<u8>, FrameOut<'static>) {
        match self.cache.as_mut() {
            Some(c) => (
                std::mem::take(&mut c.inflated),
                c.frame.take().unwrap_or_default(),
            ),
            None => Default::default(),
        }
    }

    /// Put back what [`Builder::take_frame_buffers`] gave (dropped if too large to keep).
    pub fn keep_frame_buffers(&mut self, mut inflated: Vec<u8>, frame: FrameOut<'static>) {
        let Some(c) = self.cache.as_mut() else {
            return;
        };
        if inflated.capacity() <= KEEP_INFLATED_BYTES {
            inflated.clear();
            c.inflated = inflated;
        }
        if frame.slots.capacity() <= KEEP_SLOTS {
            c.frame = Some(frame);
        }
    }

    /// `recv_ts` as given (None when not given or None).
    pub fn recv_ts(&self) -> Option<&Bound<'py, PyAny>> {
        self.recv_ts.as_ref()
    }

    /// The events of one frame as a new list, or its failure.
    pub fn frame_list(&mut self, out: &mut FrameOut<'_>) -> PyResult<Bound<'py, PyList>> {
        self.frame(out)?;
        self.take_list()
    }

    /// Build the events of a frame (kept until [`Builder::take_list`]), or raise its failure.
    /// The events stay in a Rust buffer rather than a growing list: no list reallocation and
    /// copying as a large `decode_many` result grows, and no GC pass over a half-made list.
    #[inline]
    pub fn frame(&mut self, out: &mut FrameOut<'_>) -> PyResult<()> {
        if let Some(failure) = out.failure.take() {
            return Err(self.failure(failure));
        }
        // On an error the events built so far stay in `objects`; Drop releases them.
        let mut objects = std::mem::take(&mut self.objects);
        let mut built = Ok(());
        for ev in &out.events {
            match self.event(ev, out.slots_of(ev)) {
                Ok(obj) => objects.push(obj.into_ptr()),
                Err(e) => {
                    built = Err(e);
                    break;
                }
            }
        }
        self.objects = objects;
        built
    }

    /// The events built so far, as a new list made at its final size (never seen with empty
    /// items), leaving the builder empty.
    #[inline]
    pub fn take_list(&mut self) -> PyResult<Bound<'py, PyList>> {
        let objects = &mut self.objects;
        let len = ffi::Py_ssize_t::try_from(objects.len()).unwrap_or(ffi::Py_ssize_t::MAX);
        // SAFETY: PyList_New returns a new list of `len` NULL items (or NULL with an exception
        // set); each item is then set to one of the `len` new references in `objects`, which
        // move into the list (`objects` is cleared without releasing them). Nothing runs
        // between the allocation and the last store.
        unsafe {
            let list = ffi::PyList_New(len);
            if list.is_null() {
                return Err(PyErr::fetch(self.py));
            }
            for (i, obj) in objects.iter().enumerate() {
                ffi::PyList_SET_ITEM(list, i as ffi::Py_ssize_t, *obj);
            }
            objects.clear();
            Ok(Bound::from_owned_ptr(self.py, list).cast_into_unchecked::<PyList>())
        }
    }

    fn event(&mut self, ev: &Event, slots: &[Slot<'_>]) -> PyResult<Bound<'py, PyAny>> {
        let parts = self.parts;
        let (class, names, kind) = match ev.shape {
            Shape::Kind(k) => {
                let (c, n, name) = &parts.kinds[k];
                (c.as_ref(), n, name.as_str())
            }
            Shape::TextFrame(i) => {
                let (c, name) = &parts.text_frames[i];
                (c.as_ref(), &parts.heartbeat_names, name.as_str())
            }
            Shape::Unrecognized => (
                parts.unrecognized.as_ref(),
                &parts.unrecognized_names,
                "unrecognized",
            ),
        };
        let Some(class) = class else {
            return Err(PyKeyError::new_err(kind.to_owned()));
        };
        let direct = match ev.shape {
            Shape::Kind(k) => parts.direct_kinds.get(k).and_then(Option::as_ref),
            Shape::TextFrame(i) => parts.direct_text_frames.get(i).and_then(Option::as_ref),
            Shape::Unrecognized => parts.direct_unrecognized.as_ref(),
        };
        if let Some(direct) = direct {
            return self.direct(class, direct, slots);
        }
        let names = names.bind(self.py).clone();
        if slots.len() != names.len() {
            return Err(internal_error("slots and field names differ"));
        }
        // Owned references to the values, borrowed as a pointer array (reused buffers).
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        let defaults: &[Option<Py<PyAny>>] = match ev.shape {
            Shape::Kind(k) if slots.len() <= 64 => parts.defaults.get(k).map_or(&[], Vec::as_slice),
            _ => &[],
        };
        let mut mask = 0u64;
        for (i, slot) in slots.iter().enumerate() {
            match self.slot(slot) {
                Ok(v) => {
                    if let Some(Some(d)) = defaults.get(i) {
                        if v.as_ptr() == d.as_ptr() {
                            mask |= 1 << i;
                            continue;
                        }
                    }
                    values.push(v.into_ptr());
                }
                Err(e) => {
                    release(&mut values);
                    self.values = values;
                    return Err(e);
                }
            }
        }
        let kept: PyResult<Bound<'py, PyTuple>>;
        let names = match (mask, ev.shape) {
            (0, _) => names,
            (_, Shape::Kind(k)) => {
                kept = self.kwnames(k, mask, &names);
                match kept {
                    Ok(t) => t,
                    Err(e) => {
                        release(&mut values);
                        self.values = values;
                        return Err(e);
                    }
                }
            }
            _ => names,
        };
        // SAFETY: `class` is a live callable, `values` holds `names.len()` new references,
        // passed as keyword values (no positional arguments), and `names` is a tuple of str.
        // The result is a new reference (or NULL with an exception set); the references in
        // `values` are released right after the call.
        let ret = unsafe {
            let ret = ffi::PyObject_Vectorcall(class.as_ptr(), values.as_ptr(), 0, names.as_ptr());
            Bound::from_owned_ptr_or_err(self.py, ret)
        };
        release(&mut values);
        self.values = values;
        ret
    }

    /// An instance of `class` filled directly (see [`Direct`]): every slot's object is made
    /// first, then the instance is allocated and the objects moved into it. Nothing runs
    /// between the allocation and the last store (no Python code, no allocation), so no GC
    /// pass or other thread sees a half-filled instance.
    fn direct(
        &mut self,
        class: &Py<PyAny>,
        direct: &Direct,
        slots: &[Slot<'_>],
    ) -> PyResult<Bound<'py, PyAny>> {
        if slots.len() != direct.offsets.len() {
            return Err(internal_error("slots and field names differ"));
        }
        let tp = class.as_ptr().cast::<ffi::PyTypeObject>();
        // SAFETY: `Direct::new` checked that `class` is a Struct type whose instances are
        // exactly a header plus one object word per field, each field a writable T_OBJECT_EX
        // slot at the recorded offset, and that it has a tp_alloc. tp_alloc returns a new,
        // zeroed instance (or NULL with an exception set). Each slot gets one new reference,
        // written as it is made (offsets are distinct, so no slot is written twice), and each
        // extra default an increfed one. If a value fails, the instance is released with its
        // remaining slots still NULL: a Struct's dealloc and traverse skip NULL slots, as
        // msgspec's own decoder relies on when it fills an instance field by field.
        unsafe {
            let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
            let obj = alloc(tp, 0);
            if obj.is_null() {
                return Err(PyErr::fetch(self.py));
            }
            let base = obj.cast::<u8>();
            let mut tracked = false;
            for (slot, &off) in slots.iter().zip(direct.offsets.iter()) {
                match self.slot(slot) {
                    Ok(v) => {
                        // Only these slots may make a GC object; the others make a str, int,
                        // float, bool or None (after inlining, no test on their paths).
                        if let Slot::Const(_) | Slot::Now | Slot::Decimal(_) = slot {
                            tracked |= maybe_tracked(v.as_ptr());
                        }
                        base.offset(off)
                            .cast::<*mut ffi::PyObject>()
                            .write(v.into_ptr());
                    }
                    Err(e) => {
                        ffi::Py_DECREF(obj);
                        return Err(e);
                    }
                }
            }
            for (off, d) in &direct.extras {
                base.offset(*off)
                    .cast::<*mut ffi::PyObject>()
                    .write(d.clone_ref(self.py).into_ptr());
            }
            // msgspec leaves an instance with no (possibly) tracked field untracked.
            if direct.untrack && !tracked {
                ffi::PyObject_GC_UnTrack(obj.cast());
            }
            Ok(Bound::from_owned_ptr(self.py, obj))
        }
    }

    /// The keyword names of kind `k` without the fields of `mask` (cached per kind).
    fn kwnames(
        &mut self,
        k: usize,
        mask: u64,
        all: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = self.py;
        if let Some(cache) = self.cache.as_mut() {
            if let Some(hit) = cache
                .kwnames
                .get(k)
                .and_then(|v| v.iter().find(|(m, _)| *m == mask))
            {
                return Ok(hit.1.bind(py).clone());
            }
        }
        let kept: Vec<Bound<'py, PyAny>> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i >= 64 || mask & (1 << i) == 0)
            .map(|(_, n)| n)
            .collect();
        let t = PyTuple::new(py, kept)?;
        if let Some(cache) = self.cache.as_mut() {
            if cache.kwnames.len() <= k {
                cache.kwnames.resize_with(k + 1, Vec::new);
            }
            if let Some(v) = cache.kwnames.get_mut(k) {
                if v.len() < KWNAMES_PER_KIND {
                    v.push((mask, t.clone().unbind()));
                }
            }
        }
        Ok(t)
    }

    fn now(&mut self) -> PyResult<Bound<'py, PyAny>> {
        if let Some(r) = &self.recv_ts {
            return Ok(r.clone());
        }
        if let Some(n) = &self.now {
            return Ok(n.clone());
        }
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let n = i64::try_from(ms)
            .unwrap_or(i64::MAX)
            .into_pyobject(self.py)?
            .into_any();
        self.now = Some(n.clone());
        Ok(n)
    }

    /// The Python string of symbol-cache string `index` (`2 * id`: unified, `2 * id + 1`:
    /// raw), made from the shared texts the first time.
    fn symbol(&mut self, index: usize) -> PyResult<Bound<'py, PyAny>> {
        if let Some(Some(s)) = self.cache.as_ref().and_then(|c| c.symbols.get(index)) {
            return Ok(s.bind(self.py).clone().into_any());
        }
        self.symbol_miss(index)
    }

    #[cold]
    #[inline(never)]
    fn symbol_miss(&mut self, index: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        // Cloned out, so the texts' lock is let go before any Python object is made.
        let Some((raw, unified)) = self.parts.symbol_texts.get((index / 2) as u32) else {
            return Err(internal_error("symbol id"));
        };
        let text = if index % 2 == 0 { unified } else { raw };
        let s = new_str(py, &text);
        let Some(cache) = self.cache.as_mut().map(|c| &mut c.symbols) else {
            return Ok(s);
        };
        let Ok(s) = s.cast_into::<PyString>() else {
            return Ok(PyString::new(py, &text).into_any());
        };
        if cache.len() <= index {
            cache.resize_with(index + 1, || None);
        }
        cache[index] = Some(s.clone().unbind());
        Ok(s.into_any())
    }

    #[inline(always)]
    fn slot(&mut self, slot: &Slot<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match slot {
            Slot::None => py.None().into_bound(py),
            Slot::Exchange => self.parts.exchange.bind(py).clone().into_any(),
            Slot::Now => self.now()?,
            Slot::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            Slot::Int(i) => i.into_pyobject(py)?.into_any(),
            Slot::Float(f) => PyFloat::new(py, *f).into_any(),
            Slot::Decimal(t) => decimal(py, t)?,
            Slot::Str(s) => new_str(py, s),
            Slot::Interned(id) => match self.parts.strings.get(*id as usize) {
                Some(s) => s.bind(py).clone().into_any(),
                None => return Err(internal_error("string id")),
            },
            Slot::Const(id) => match self.parts.consts.get(*id as usize) {
                Some(c) => c.bind(py).clone(),
                None => return Err(internal_error("constant id")),
            },
            Slot::Symbol(id) => self.symbol(2 * *id as usize)?,
            Slot::RawSymbol(id) => self.symbol(2 * *id as usize + 1)?,
            Slot::Shared(s) => new_str(py, s),
        })
    }

    /// The exception for a failure.
    #[cold]
    #[inline(never)]
    pub fn failure(&self, failure: Failure) -> PyErr {
        failure_to_pyerr(self.py, self.parts.exchange.bind(self.py), failure)
    }
}

/// The error for what a valid plan never makes (a bug in the decoder).
#[cold]
#[inline(never)]
fn internal_error(what: &str) -> PyErr {
    PyValueError::new_err(format!("internal error: {what}"))
}

/// Per field of a msgspec Struct class: its default when that is None, True or False (None
/// for a field without a default, with another default, or a class that is not a Struct).
fn singleton_defaults(cls: &Bound<'_, PyAny>, fields: &[&str]) -> Vec<Option<Py<PyAny>>> {
    let py = cls.py();
    let none = || fields.iter().map(|_| None).collect();
    let (Ok(names), Ok(defaults)) = (
        cls.getattr("__struct_fields__"),
        cls.getattr("__struct_defaults__"),
    ) else {
        return none();
    };
    let (Ok(names), Ok(defaults)) = (
        names.cast_into::<PyTuple>(),
        defaults.cast_into::<PyTuple>(),
    ) else {
        return none();
    };
    // The class's own field order must be the plan's, or nothing is left out.
    let same = names.len() == fields.len()
        && names
            .iter()
            .zip(fields)
            .all(|(n, f)| n.extract::<&str>().is_ok_and(|n| n == *f));
    if !same || defaults.len() > names.len() {
        return none();
    }
    let first = names.len() - defaults.len();
    let singletons = [
        py.None().into_bound(py),
        true.into_pyobject(py)
            .map(|b| b.to_owned().into_any())
            .ok()
            .unwrap_or_else(|| py.None().into_bound(py)),
        false
            .into_pyobject(py)
            .map(|b| b.to_owned().into_any())
            .ok()
            .unwrap_or_else(|| py.None().into_bound(py)),
    ];
    (0..names.len())
        .map(|i| {
            let d = i
                .checked_sub(first)
                .and_then(|j| defaults.get_item(j).ok())?;
            singletons.iter().any(|s| s.is(&d)).then(|| d.unbind())
        })
        .collect()
}

/// A Python str of `text`: an ASCII text is copied into a new compact ASCII string (what
/// msgspec does), skipping CPython's UTF-8 decoder; any other text goes through it.
fn new_str<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyAny> {
    if text.is_ascii() {
        if let Ok(len) = ffi::Py_ssize_t::try_from(text.len()) {
            // SAFETY: PyUnicode_New returns a new compact string of `len` code points with
            // maxchar 127, i.e. 1 byte per character and room for `len` bytes (plus the NUL it
            // writes itself), or NULL with an exception set. We write exactly `len` ASCII
            // bytes into its data before anyone else sees it.
            unsafe {
                let obj = ffi::PyUnicode_New(len, 127);
                if !obj.is_null() {
                    let data = ffi::PyUnicode_DATA(obj).cast::<u8>();
                    std::ptr::copy_nonoverlapping(text.as_ptr(), data, text.len());
                    return Bound::from_owned_ptr(py, obj);
                }
                ffi::PyErr_Clear();
            }
        }
    }
    PyString::new(py, text).into_any()
}

/// `decimal.Decimal(text)`.
fn decimal<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let cls = import_attr(py, &DECIMAL, "decimal", "Decimal")?;
    // The text is the wire's number (ASCII): new_str skips the UTF-8 decoder.
    let arg = new_str(py, text);
    let args = [arg.as_ptr()];
    // SAFETY: `cls` is a live callable, `args` holds one live reference (kept alive by `arg`),
    // passed as one positional argument; the result is a new reference or NULL with an error.
    unsafe {
        let ret = ffi::PyObject_Vectorcall(cls.as_ptr(), args.as_ptr(), 1, std::ptr::null_mut());
        Bound::from_owned_ptr_or_err(py, ret)
    }
}

/// A plan constant as `json.loads` makes it.
fn json_value<'py>(py: Python<'py>, v: &Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Int(t) => match t.parse::<i64>() {
            Ok(i) => i.into_pyobject(py)?.into_any(),
            Err(_) => py.get_type::<PyInt>().call1((t.as_ref(),))?,
        },
        Value::Float(t) => py.get_type::<PyFloat>().call1((t.as_ref(),))?,
        Value::PyFloat(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_value(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(members) => {
            let dict = PyDict::new(py);
            for m in members {
                dict.set_item(m.key.as_ref(), json_value(py, &m.value)?)?;
            }
            dict.into_any()
        }
    })
}

/// The one place failures become Python exceptions: `pushwire.errors.DecodeError` with its
/// attributes, or the plain Python exception the reference decoder lets through.
#[cold]
#[inline(never)]
pub fn failure_to_pyerr(py: Python<'_>, exchange: &Bound<'_, PyString>, failure: Failure) -> PyErr {
    match failure.into_kind() {
        FailureKind::Decode {
            channel,
            field,
            message,
        } => {
            let build = || -> PyResult<PyErr> {
                let cls = import_attr(py, &DECODE_ERROR, "pushwire.errors", "DecodeError")?;
                let ex = exchange.to_str()?;
                let text = Failure::decode_message(ex, channel.as_deref(), &message);
                let kwargs = PyDict::new(py);
                kwargs.set_item("exchange", exchange)?;
                kwargs.set_item("channel", channel.as_deref())?;
                kwargs.set_item("field", field.as_deref())?;
                let err = cls.call((text,), Some(&kwargs))?;
                Ok(PyErr::from_value(err))
            };
            build().unwrap_or_else(|e| e)
        }
        FailureKind::PyValue(m) => PyValueError::new_err(m),
        FailureKind::PyType(m) => PyTypeError::new_err(m),
    }
}

/// Set `PUSHWIRE_STRUCT_BUILD=call` (before a decoder is made) to call every event class
/// instead of filling instances directly (the fallback path, for tests and comparisons).
fn direct_allowed() -> bool {
    std::env::var_os("PUSHWIRE_STRUCT_BUILD").is_none_or(|v| v != "call")
}

/// How to build instances of one msgspec Struct class without calling it, as msgspec's own
/// decoder does: allocate with `tp_alloc` and store each field's object into its slot. Calling
/// the class (vectorcall with keyword names) costs ~1.2k instructions per event; this ~100.
pub struct Direct {
    /// Byte offset of each slot's field in the instance, in slot order.
    offsets: Box<[ffi::Py_ssize_t]>,
    /// Class fields with no slot: their offset and default (a None, bool, int, float or str,
    /// never GC-tracked).
    extras: Vec<(ffi::Py_ssize_t, Py<PyAny>)>,
    /// The class is a GC type: an instance is untracked unless a slot value may be tracked,
    /// as msgspec's constructor leaves it.
    untrack: bool,
}

impl Direct {
    /// The layout of `cls` for events with slots `fields`, or None for a class this does not
    /// know how to fill exactly as calling it would: not a plain `msgspec.Struct` subclass,
    /// a `__post_init__`, fields that are not all object slots of this very class, a
    /// `__dict__`/`__weakref__`/cached-hash slot, a plan field the class lacks or a class field
    /// without a plan slot whose default is not a plain immutable value.
    fn new(cls: &Bound<'_, PyAny>, fields: &[&str]) -> PyResult<Option<Direct>> {
        let py = cls.py();
        let base = py.import("msgspec")?.getattr("Struct")?;
        let Ok(ty) = cls.cast::<PyType>() else {
            return Ok(None);
        };
        if !ty.get_type().is(base.get_type()) || !ty.is_subclass(&base)? || ty.is(&base) {
            return Ok(None);
        }
        if ty.hasattr("__post_init__")? {
            return Ok(None);
        }
        let (Ok(names), Ok(defaults)) = (
            ty.getattr("__struct_fields__")?.cast_into::<PyTuple>(),
            ty.getattr("__struct_defaults__")?.cast_into::<PyTuple>(),
        ) else {
            return Ok(None);
        };
        let n = names.len();
        if defaults.len() > n {
            return Ok(None);
        }
        let word = std::mem::size_of::<*mut ffi::PyObject>() as ffi::Py_ssize_t;
        let head = std::mem::size_of::<ffi::PyObject>() as ffi::Py_ssize_t;
        let tp = ty.as_type_ptr();
        // SAFETY: `tp` is a live type object (held by `ty`); only plain fields are read.
        let (gc, plain) = unsafe {
            let t = &*tp;
            let flags = t.tp_flags;
            let plain = t.tp_itemsize == 0
                && t.tp_dictoffset == 0
                && t.tp_weaklistoffset == 0
                && t.tp_alloc.is_some()
                && flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
                && flags & ffi::Py_TPFLAGS_MANAGED_DICT == 0
                // Every word after the header is a field: all get filled below.
                && Some(t.tp_basicsize) == head.checked_add(word * n as ffi::Py_ssize_t);
            (flags & ffi::Py_TPFLAGS_HAVE_GC != 0, plain)
        };
        if !plain {
            return Ok(None);
        }
        let own = ty.getattr("__dict__")?;
        let mut offsets = vec![-1; fields.len()];
        let mut extras = Vec::new();
        let mut seen = vec![false; n];
        for (j, name) in names.iter().enumerate() {
            let Ok(name) = name.cast_into::<PyString>() else {
                return Ok(None);
            };
            let name_str = name.to_str()?;
            // The field's member descriptor, in this class's own namespace.
            let Ok(descr) = own.get_item(&name) else {
                return Ok(None);
            };
            // Only the static's address is taken (no read).
            let member_type = std::ptr::addr_of_mut!(ffi::PyMemberDescr_Type);
            if descr.get_type().as_type_ptr() != member_type {
                return Ok(None);
            }
            // SAFETY: `descr` is exactly a member descriptor (checked above), so it is a
            // PyMemberDescrObject; its d_member points into its type's static member table,
            // which lives as long as the type (held by `ty`).
            let (owner, offset, kind, ro) = unsafe {
                let d = descr.as_ptr().cast::<ffi::PyMemberDescrObject>();
                let m = (*d).d_member;
                if m.is_null() {
                    return Ok(None);
                }
                (
                    (*d).d_common.d_type,
                    (*m).offset,
                    (*m).type_code,
                    (*m).flags & ffi::Py_READONLY != 0,
                )
            };
            // An object slot (T_OBJECT_EX) of this very class, not read-only (msgspec's
            // dealloc clears only writable slots), word-aligned within the instance.
            let slot = offset - head;
            if owner != tp
                || kind != ffi::Py_T_OBJECT_EX
                || ro
                || slot < 0
                || slot % word != 0
                || slot / word >= n as ffi::Py_ssize_t
                || std::mem::replace(&mut seen[(slot / word) as usize], true)
            {
                return Ok(None);
            }
            match fields.iter().position(|f| *f == name_str) {
                Some(i) => offsets[i] = offset,
                None => {
                    // No slot: the class's default, when it is a plain value (a factory or
                    // a mutable default would be made per instance by the class).
                    let Some(d) = (j + defaults.len())
                        .checked_sub(n)
                        .and_then(|k| defaults.get_item(k).ok())
                    else {
                        return Ok(None);
                    };
                    // SAFETY: `d` is a live object; the checks only read its type.
                    let simple = d.is_none()
                        || unsafe {
                            ffi::PyBool_Check(d.as_ptr()) != 0
                                || ffi::PyLong_CheckExact(d.as_ptr()) != 0
                                || ffi::PyFloat_CheckExact(d.as_ptr()) != 0
                                || ffi::PyUnicode_CheckExact(d.as_ptr()) != 0
                        };
                    if !simple {
                        return Ok(None);
                    }
                    extras.push((offset, d.unbind()));
                }
            }
        }
        // Every plan slot is a class field (the class would refuse an unknown keyword).
        if offsets.contains(&-1) {
            return Ok(None);
        }
        Ok(Some(Direct {
            offsets: offsets.into_boxed_slice(),
            extras,
            untrack: gc,
        }))
    }
}

/// Whether msgspec would count `obj` as (possibly) GC-tracked: a GC type, and for a tuple,
/// tracked itself (msgspec's `MS_MAYBE_TRACKED`).
#[inline]
fn maybe_tracked(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: `obj` is a live object; only its type's flags and GC state are read.
    unsafe {
        ffi::PyType_IS_GC(ffi::Py_TYPE(obj)) != 0
            && (ffi::PyTuple_CheckExact(obj) == 0 || ffi::PyObject_GC_IsTracked(obj) != 0)
    }
}
