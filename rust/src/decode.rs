//! The generic decoder: frame bytes -> events as slot values, by interpreting the plan.
//!
//! This is `pushwire._pydecode.PyDecoder` written out in Rust, function for function (the names
//! in comments are the reference's), and holds no PyO3 type: the Python layer turns the
//! [`Slot`]s into objects in one place (`build.rs`). Nothing here knows an exchange.
//!
//! Every failure is found here, before a Python object exists: decimal texts are checked against
//! what `decimal.Decimal` accepts and `sub` is computed exactly in Rust, so building the events
//! cannot fail where the reference decoder would not.
//!
//! Speed: the frame is a [`Tape`] (no tree); the root's members and each record's members are
//! looked up once ("gathered") into slots the plan assigned to its paths, so a field's path is an
//! array read; plain `path -> type` fields, `any` of plain paths, mapped enums and constants take
//! fast paths ([`Field::fast`] and friends) and fall back to the general evaluation for anything
//! unusual, which also makes every error.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{field_error, Failure, FailureKind, FieldError, FieldErrorKind};
use crate::inflate::{self, InflateError};
use crate::json::{JsonError, ParseLimits, Value};
use crate::plan::{
    Base, Case, CmpOp, Cond, Emit, Exchange, Field, FieldType, Hot, HotPath, Iter, JsonType,
    KindId, MapFrom, Op, Part, Path, Plan, Route, SignBy, Source, TextSet,
};
use crate::tape::{self, Doc, Tape};
use crate::text::{self, Packed};

/// Timestamps below this are seconds (1e11 ms is March 1973).
const SECONDS_BELOW: i64 = 100_000_000_000;
/// The symbol cache stops growing here (the reference decoder's bound).
pub const SYMBOL_CACHE_MAX: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    Float,
    Decimal,
}

impl Numbers {
    pub fn parse(s: &str) -> Option<Numbers> {
        match s {
            "float" => Some(Numbers::Float),
            "decimal" => Some(Numbers::Decimal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_inflated_bytes: usize,
    pub max_depth: usize,
    /// `sys.get_int_max_str_digits()` (0: unlimited).
    pub int_max_str_digits: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_inflated_bytes: 16 * 1024 * 1024,
            max_depth: 128,
            int_max_str_digits: 4300,
        }
    }
}

/// One value of an event, before it is a Python object.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot<'a> {
    None,
    /// The decoder's exchange name.
    Exchange,
    /// `recv_ts` if given, else the current time in ms.
    Now,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `decimal.Decimal(text)` (the text is one `Decimal` accepts).
    Decimal(Cow<'a, str>),
    Str(Cow<'a, str>),
    /// An enum value: [`Plan::strings`] id.
    Interned(u32),
    /// A plan constant (default, reply): [`Plan::consts`] id.
    Const(u32),
    /// The unified symbol of symbol-cache entry `id` (its text: [`State::symbol`], or
    /// [`SymbolTexts`] outside the state). An id, not a text reference: no atomic reference
    /// count per event.
    Symbol(u32),
    /// The raw symbol of symbol-cache entry `id`.
    RawSymbol(u32),
    /// A unified symbol the full cache did not keep.
    Shared(Arc<str>),
}

impl Slot<'_> {
    /// Whether dropping this value frees something (every variant not listed here may).
    #[inline(always)]
    fn owns(&self) -> bool {
        !matches!(
            self,
            Slot::None
                | Slot::Exchange
                | Slot::Now
                | Slot::Bool(_)
                | Slot::Int(_)
                | Slot::Float(_)
                | Slot::Interned(_)
                | Slot::Const(_)
                | Slot::Symbol(_)
                | Slot::RawSymbol(_)
                | Slot::Decimal(Cow::Borrowed(_))
                | Slot::Str(Cow::Borrowed(_))
        )
    }

    pub fn into_static(self) -> Slot<'static> {
        match self {
            Slot::None => Slot::None,
            Slot::Exchange => Slot::Exchange,
            Slot::Now => Slot::Now,
            Slot::Bool(b) => Slot::Bool(b),
            Slot::Int(i) => Slot::Int(i),
            Slot::Float(f) => Slot::Float(f),
            Slot::Decimal(t) => Slot::Decimal(Cow::Owned(t.into_owned())),
            Slot::Str(s) => Slot::Str(Cow::Owned(s.into_owned())),
            Slot::Interned(i) => Slot::Interned(i),
            Slot::Const(i) => Slot::Const(i),
            Slot::Symbol(i) => Slot::Symbol(i),
            Slot::RawSymbol(i) => Slot::RawSymbol(i),
            Slot::Shared(s) => Slot::Shared(s),
        }
    }
}

/// Store `v` in a slot. The slot is almost always still None, which owns nothing: overwriting
/// it without the drop glue saves an out-of-line `drop_in_place` call per field (and one store
/// path, not two, keeps the code small).
#[inline(always)]
fn put<'a>(out: &mut Slot<'a>, v: Slot<'a>) {
    let old = std::mem::replace(out, v);
    if matches!(old, Slot::None) {
        std::mem::forget(old);
    } else {
        drop_slot(old);
    }
}

#[cold]
#[inline(never)]
fn drop_slot(old: Slot<'_>) {
    drop(old);
}

/// Which class and keyword names an event is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An emitted kind: every field of the kind, in order.
    Kind(KindId),
    /// A text frame (index into the exchange's `text_frames`): exchange, ts, reply.
    TextFrame(usize),
    /// `unrecognized`: exchange, ts, topic, raw.
    Unrecognized,
}

/// An event: its shape and where its values are in [`FrameOut::slots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub shape: Shape,
    pub start: u32,
    pub len: u32,
}

/// The events of one frame, or the failure that stopped it. The events' values share one
/// buffer (one allocation per frame rather than per event).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FrameOut<'a> {
    pub events: Vec<Event>,
    pub slots: Vec<Slot<'a>>,
    pub failure: Option<Failure>,
}

impl<'a> FrameOut<'a> {
    pub fn fail(failure: Failure) -> FrameOut<'a> {
        FrameOut {
            failure: Some(failure),
            ..FrameOut::default()
        }
    }

    /// The values of an event of this frame.
    pub fn slots_of(&self, ev: &Event) -> &[Slot<'a>] {
        let start = ev.start as usize;
        self.slots
            .get(start..start.saturating_add(ev.len as usize))
            .unwrap_or_default()
    }

    /// Append an event of these values.
    fn push(&mut self, shape: Shape, slots: impl IntoIterator<Item = Slot<'a>>) {
        let start = self.slots.len();
        self.slots.extend(slots);
        self.close(shape, start);
    }

    /// Append an event whose values are `slots[start..]`.
    fn close(&mut self, shape: Shape, start: usize) {
        self.events.push(Event {
            shape,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(self.slots.len() - start).unwrap_or(0),
        });
    }

    pub fn into_static(self) -> FrameOut<'static> {
        FrameOut {
            events: self.events,
            slots: self.slots.into_iter().map(Slot::into_static).collect(),
            failure: self.failure,
        }
    }

    /// Empty this frame's buffers for another frame (of any lifetime), keeping their
    /// allocations: a decoder reuses them from call to call instead of allocating two vectors
    /// per frame.
    pub fn recycle<'b>(mut self) -> FrameOut<'b> {
        self.events.clear();
        // Drop only the values that own something (an inline tag test per slot rather than
        // a drop glue call per slot); what is left owns nothing, so truncating it leaks none.
        for s in &mut self.slots {
            if s.owns() {
                *s = Slot::None;
            }
        }
        // SAFETY: 0 is within capacity, and no element is exposed (they are all forgotten).
        unsafe { self.slots.set_len(0) };
        let mut slots = std::mem::ManuallyDrop::new(self.slots);
        let (ptr, cap) = (slots.as_mut_ptr(), slots.capacity());
        FrameOut {
            events: self.events,
            // SAFETY: `ptr` and `cap` are those of a live Vec<Slot<'a>> whose ownership moves
            // here (ManuallyDrop: it is not freed twice); its values own nothing (the owning
            // ones were replaced above), so forgetting them leaks nothing; Slot<'a> and
            // Slot<'b> are the same type up to a lifetime (same size, alignment and layout),
            // and with length 0 no value of the old lifetime is carried over.
            slots: unsafe { Vec::from_raw_parts(ptr.cast::<Slot<'b>>(), 0, cap) },
            failure: None,
        }
    }
}

/// The texts of a decoder's symbol cache, (raw, unified) by id, shared between its [`State`]
/// (which appends, rarely: a new symbol) and its Python builder (which reads one only the first
/// time it makes that symbol's Python string). Its lock is held only to push or to clone an
/// entry out, never while waiting for anything else, so it cannot deadlock with the GIL or the
/// state lock.
#[derive(Debug, Default, Clone)]
pub struct SymbolTexts(Arc<Mutex<Vec<SymbolEntry>>>);

/// A symbol-cache entry's texts: (raw, unified).
type SymbolEntry = (Arc<str>, Arc<str>);

impl SymbolTexts {
    /// Entry `id`: (raw, unified).
    pub fn get(&self, id: u32) -> Option<SymbolEntry> {
        let texts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        texts.get(id as usize).cloned()
    }

    #[cold]
    fn push(&self, raw: Arc<str>, unified: Arc<str>) {
        let mut texts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        texts.push((raw, unified));
    }
}

/// Mutable decoder state: the symbol cache and the buffers reused from frame to frame.
#[derive(Debug, Default)]
pub struct State {
    /// Raw symbol -> id; `entries[id]` is (raw, unified). Append-only, so ids are stable.
    symbols: HashMap<Arc<str>, u32>,
    /// A direct-mapped cache in front of `symbols` (id + 1; 0: empty), by a cheap hash of
    /// the raw text; a hit is confirmed by comparing the text.
    recent: Vec<u32>,
    entries: Vec<SymbolEntry>,
    /// `entries` again, readable without this state (by the Python builder).
    texts: SymbolTexts,
    /// The raw texts of `entries`, packed (a longer text: default, never compared).
    packed: Vec<Packed>,
    /// The frame's JSON tape (its buffers are reused), boxed so that taking it out for a frame
    /// and putting it back moves a pointer (None only while a frame has it).
    tape: Option<Box<Tape>>,
    /// libdeflate's decompressor (made on the first gzip frame).
    inflater: Option<inflate::FastInflater>,
    /// The gathered members of the current record, by the emit's gather slot (`MISSING`).
    vals: Vec<u32>,
    /// The root's members, by the exchange's root slot (`MISSING`).
    root_vals: Vec<u32>,
    /// The values of the [`Cond::Frame`] conditions, tagged with the frame number.
    frame_conds: Vec<u64>,
    /// The frame number (from 1; never wraps in practice).
    frame_gen: u64,
    /// Buffers of the record walk (reused).
    recs: Vec<Rec>,
    walk: Vec<Walk>,
    walk_next: Vec<Walk>,
}

/// No value in a gather slot.
const MISSING: u32 = u32::MAX;

/// Entries of the recent-symbol cache (a power of two; two-way: slot `h` and `h ^ 1`).
const RECENT: usize = 1024;

impl State {
    /// Entry `id` of the symbol cache: (raw, unified).
    pub fn symbol(&self, id: u32) -> Option<(&str, &str)> {
        let (raw, unified) = self.entries.get(id as usize)?;
        Some((raw, unified))
    }

    /// The symbol texts, shared (see [`SymbolTexts`]).
    pub fn symbol_texts(&self) -> SymbolTexts {
        self.texts.clone()
    }

    /// Put symbol `id` in the recent-symbol cache at `h`, moving what was there to the
    /// other way.
    fn remember(&mut self, h: usize, id: u32) {
        if self.recent.len() != RECENT {
            self.recent = vec![0; RECENT];
        }
        let old = self.recent.get(h).copied().unwrap_or(0);
        if let Some(r) = self.recent.get_mut(h ^ 1) {
            *r = old;
        }
        if let Some(r) = self.recent.get_mut(h) {
            *r = id + 1;
        }
    }
}

/// The recent-symbol cache's slot of a raw symbol.
#[inline(always)]
fn recent_hash(b: &[u8]) -> usize {
    let head = b.first_chunk::<8>().map_or_else(
        || b.iter().fold(0u64, |h, &c| (h << 8) | u64::from(c)),
        |c| u64::from_le_bytes(*c),
    );
    let tail = b.last_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c));
    let h = (head ^ tail.rotate_left(31) ^ (b.len() as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 54) as usize & (RECENT - 1)
}

/// One exchange's decoder over a shared plan.
#[derive(Debug)]
pub struct Engine {
    pub plan: Arc<Plan>,
    pub ex: usize,
    pub numbers: Numbers,
    pub limits: Limits,
}

impl Engine {
    /// None when the plan has no such exchange.
    pub fn new(
        plan: Arc<Plan>,
        exchange: &str,
        numbers: Numbers,
        limits: Limits,
    ) -> Option<Engine> {
        let ex = plan.exchange(exchange)?;
        Some(Engine {
            plan,
            ex,
            numbers,
            limits,
        })
    }

    pub fn exchange(&self) -> &Exchange {
        &self.plan.exchanges[self.ex].1
    }

    pub fn exchange_name(&self) -> &str {
        &self.plan.exchanges[self.ex].0
    }

    /// The size check on the frame as received.
    pub fn check_size(&self, input: &[u8]) -> Result<(), Failure> {
        if input.len() > self.limits.max_frame_bytes {
            return Err(Failure::frame(format!(
                "frame of {} bytes exceeds the {}-byte limit",
                input.len(),
                self.limits.max_frame_bytes
            )));
        }
        Ok(())
    }

    /// The frame's text: size check, then gzip inflate (by magic bytes) into `scratch`.
    pub fn prepare<'b>(
        &self,
        input: &'b [u8],
        scratch: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], Failure> {
        self.check_size(input)?;
        if !inflate::is_gzip(input) {
            return Ok(input);
        }
        let limit = self.limits.max_inflated_bytes;
        match inflate::gunzip(input, limit, scratch) {
            Ok(()) => Ok(scratch.as_slice()),
            Err(e) => Err(inflate_failure(e, limit)),
        }
    }

    /// [`Engine::prepare`] with the decoder's fast inflater.
    pub fn prepare_fast<'b>(
        &self,
        st: &mut State,
        input: &'b [u8],
        scratch: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], Failure> {
        self.check_size(input)?;
        if !inflate::is_gzip(input) {
            return Ok(input);
        }
        let limit = self.limits.max_inflated_bytes;
        match inflate::gunzip_fast(&mut st.inflater, input, limit, scratch) {
            Ok(()) => Ok(scratch.as_slice()),
            Err(e) => Err(inflate_failure(e, limit)),
        }
    }

    /// Decode one frame as received (bytes of text or gzip).
    pub fn decode<'a>(
        &'a self,
        st: &mut State,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> FrameOut<'a> {
        match self.prepare_fast(st, input, scratch) {
            Ok(buf) => self.decode_text(st, buf),
            Err(f) => FrameOut::fail(f),
        }
    }

    /// [`Engine::decode`] into `out` (empty: see [`FrameOut::recycle`]), reusing its buffers.
    pub fn decode_reusing<'a>(
        &'a self,
        st: &mut State,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
        out: &mut FrameOut<'a>,
    ) {
        let done = match self.prepare_fast(st, input, scratch) {
            Ok(buf) => self.decode_into(st, buf, out),
            Err(f) => Err(f),
        };
        if let Err(f) = done {
            out.events.clear();
            out.slots.clear();
            out.failure = Some(f);
        }
    }

    /// Decode a frame already inflated.
    pub fn decode_text<'a>(&'a self, st: &mut State, buf: &'a [u8]) -> FrameOut<'a> {
        let mut out = FrameOut::default();
        match self.decode_into(st, buf, &mut out) {
            Ok(()) => out,
            Err(f) => FrameOut::fail(f),
        }
    }

    /// Decode a frame already inflated, appending its events to `out` (on failure, `out` may
    /// hold some of the frame's events: the caller drops them).
    pub fn decode_into<'a>(
        &'a self,
        st: &mut State,
        buf: &'a [u8],
        out: &mut FrameOut<'a>,
    ) -> Result<(), Failure> {
        let ex = self.exchange();
        if buf.len() <= ex.max_text_frame.saturating_add(8) {
            let stripped = text::strip_ascii_ws(buf);
            if let Some(i) = ex.text_frames.iter().position(|t| t.text == stripped) {
                let reply = ex.text_frames[i].reply;
                out.push(
                    Shape::TextFrame(i),
                    [Slot::Exchange, Slot::Now, Slot::Const(reply)],
                );
                return Ok(());
            }
        }
        let mut tape = st.tape.take().unwrap_or_default();
        let result = match tape.parse_utf8(buf, self.parse_limits(), Some(&self.plan.keys)) {
            Ok(raw) => {
                let doc = tape.doc(raw);
                if doc.tag(0) != tape::OBJECT {
                    Err(Failure::frame(format!(
                        "expected a JSON object, got {}",
                        describe(&node_view(&doc, 0))
                    )))
                } else {
                    let mut run = Run {
                        eng: self,
                        ex,
                        st,
                        doc,
                        gathered: MISSING,
                    };
                    run.frame(raw, out)
                }
            }
            Err(e) => Err(self.json_failure(e)),
        };
        st.tape = Some(tape);
        result
    }

    fn parse_limits(&self) -> ParseLimits {
        ParseLimits {
            max_depth: self.limits.max_depth,
            hard_depth: self.limits.max_depth.max(1000),
            int_max_str_digits: self.limits.int_max_str_digits,
        }
    }

    #[cold]
    #[inline(never)]
    fn json_failure(&self, e: JsonError) -> Failure {
        Failure::frame(match e {
            JsonError::Syntax(m) => format!("frame is not valid JSON: {m}"),
            JsonError::Utf8 { reason, at } => {
                format!("frame is not valid UTF-8: {reason} at byte {at}")
            }
            JsonError::TooDeep => format!("JSON nesting deeper than {}", self.limits.max_depth),
        })
    }
}

#[cold]
#[inline(never)]
pub fn inflate_failure(e: InflateError, limit: usize) -> Failure {
    Failure::frame(match e {
        InflateError::Bad(m) => format!("bad gzip data: {m}"),
        InflateError::TooLarge => format!("gzip frame inflates past the {limit}-byte limit"),
        InflateError::Truncated => "truncated gzip data".to_owned(),
        InflateError::Trailing => "trailing bytes after the gzip member".to_owned(),
    })
}

// -- values ------------------------------------------------------------------------------------

/// A value during evaluation: what the reference decoder holds as a Python object.
#[derive(Debug, Clone)]
enum Cur<'a> {
    /// A JSON value of the frame (a tape node).
    N(u32),
    /// A plan constant.
    C(&'a Value<'static>),
    /// A Python str (a map key, a join, a template, a sign name, a symbol part).
    Str(Cow<'a, str>),
    /// A `_JsonFloat` made by sign_by/negate.
    JFloat(Cow<'a, str>),
    /// A Python bool (a test).
    Bool(bool),
    /// A `_Typed` (the result of sub).
    Typed(Box<Num<'a>>),
    /// `_Absent`: no value (remembering an unmapped value, for "unknown value" messages).
    Absent(Option<Box<str>>),
}

const ABSENT: Cur<'static> = Cur::Absent(None);

/// A converted decimal: a float, or the text of a Decimal to build.
#[derive(Debug, Clone)]
enum Num<'a> {
    F(f64),
    D(Cow<'a, str>),
}

/// A list, of the frame or of the plan.
#[derive(Clone, Copy)]
enum List<'x> {
    Node(u32),
    Plan(&'x [Value<'static>]),
}

/// A value seen by type, whatever its origin.
#[derive(Clone, Copy)]
enum View<'x> {
    Null,
    Bool(bool),
    Int(&'x str),
    JFloat(&'x str),
    PyFloat,
    Str(&'x str),
    List(List<'x>),
    Dict,
    Typed,
}

#[inline]
fn node_view<'a: 'x, 'x>(doc: &Doc<'a, 'x>, i: u32) -> View<'x> {
    match doc.tag(i) {
        tape::NULL => View::Null,
        tape::FALSE => View::Bool(false),
        tape::TRUE => View::Bool(true),
        tape::INT => View::Int(doc.text(i)),
        tape::FLOAT => View::JFloat(doc.text(i)),
        tape::STR => View::Str(doc.text(i)),
        tape::ARRAY => View::List(List::Node(i)),
        _ => View::Dict,
    }
}

fn value_view<'x>(v: &'x Value<'static>) -> View<'x> {
    match v {
        Value::Null => View::Null,
        Value::Bool(b) => View::Bool(*b),
        Value::Int(t) => View::Int(t),
        Value::Float(t) => View::JFloat(t),
        Value::PyFloat(_) => View::PyFloat,
        Value::Str(s) => View::Str(s),
        Value::Array(items) => View::List(List::Plan(items)),
        Value::Object(_) => View::Dict,
    }
}

/// `canonical(v)`: a string as is, an int in decimal, a float literal's text, true/false.
#[inline]
fn canonical(view: View<'_>) -> Option<&str> {
    match view {
        View::Str(s) | View::JFloat(s) => Some(s),
        View::Bool(true) => Some("true"),
        View::Bool(false) => Some("false"),
        View::Int(t) => Some(text::int_literal_canonical(t)),
        _ => None,
    }
}

/// A text compared as is or, under `ci`, as `str.lower()` of it: an ASCII text is lowered
/// byte by byte while comparing (no copy), anything else once through [`text::with_lower`].
#[derive(Clone, Copy)]
enum Key<'x> {
    Exact(&'x str),
    AsciiLower(&'x str),
}

impl Key<'_> {
    #[inline]
    fn eq(self, v: &str) -> bool {
        match self {
            Key::Exact(t) => t == v,
            Key::AsciiLower(t) => ascii_lower_prefix(t.as_bytes(), v.as_bytes(), true),
        }
    }

    #[inline]
    fn starts_with(self, v: &str) -> bool {
        match self {
            Key::Exact(t) => t.starts_with(v),
            Key::AsciiLower(t) => ascii_lower_prefix(t.as_bytes(), v.as_bytes(), false),
        }
    }
}

/// Whether `v` is a prefix (or, `whole`, all) of the ASCII-lowered `t`.
#[inline]
fn ascii_lower_prefix(t: &[u8], v: &[u8], whole: bool) -> bool {
    let fits = if whole {
        t.len() == v.len()
    } else {
        t.len() >= v.len()
    };
    fits && t.iter().zip(v).all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// `t` up to the first `sep` (all of it if none). A one-byte separator (ASCII: the usual `.`)
/// is a byte scan; `str::find` would set up a two-way searcher for every frame.
#[inline]
fn cut_before<'t>(t: &'t str, sep: &str) -> &'t str {
    let at = match sep.as_bytes() {
        &[c] => t.bytes().position(|b| b == c),
        _ => t.find(sep),
    };
    at.and_then(|i| t.get(..i)).unwrap_or(t)
}

/// `f` of the text as compared: `t` itself, or `t.lower()` under `ci`.
#[inline]
fn with_key<R>(t: &str, ci: bool, f: impl FnOnce(Key<'_>) -> R) -> R {
    if !ci {
        f(Key::Exact(t))
    } else if t.is_ascii() {
        f(Key::AsciiLower(t))
    } else {
        text::with_lower(t, |low| f(Key::Exact(low)))
    }
}

/// Whether a `sign_by` text is among its negative and its positive texts.
#[inline]
fn sign_texts(sb: &SignBy, c: &str) -> (bool, bool) {
    match Packed::key(c.as_bytes(), sb.ci) {
        Some(k) => (
            sb.negative.packed.contains(&k),
            sb.positive.packed.contains(&k),
        ),
        None => with_key(c, sb.ci, |k| {
            let has = |set: &TextSet| set.texts.iter().any(|x| k.eq(x));
            (has(&sb.negative), has(&sb.positive))
        }),
    }
}

/// `_describe(v)`, for messages (quoted text capped at 40 characters).
#[cold]
#[inline(never)]
fn describe(v: &View<'_>) -> String {
    let capped = |t: &str| {
        let more = if text::char_len_over(t, 40) {
            "..."
        } else {
            ""
        };
        format!("{}{more}", text::prefix_chars(t, 40))
    };
    match *v {
        View::JFloat(t) => format!("number {}", capped(t)),
        View::Str(s) => {
            let more = if text::char_len_over(s, 40) {
                "..."
            } else {
                ""
            };
            format!("string {}{more}", text::repr(text::prefix_chars(s, 40)))
        }
        View::Bool(b) => format!("boolean {}", if b { "true" } else { "false" }),
        View::Int(t) => format!("number {}", capped(text::int_literal_canonical(t))),
        View::Dict => "an object".to_owned(),
        View::List(_) => "an array".to_owned(),
        View::Null => "null".to_owned(),
        View::PyFloat => "float".to_owned(),
        View::Typed => "_Typed".to_owned(),
    }
}

/// What `_get` found.
#[derive(Clone, Copy)]
enum Got {
    Missing,
    /// A node of the frame (possibly null).
    N(u32),
    /// The map key of the record (a key node).
    Key(u32),
    /// `^` of a top-level record: None.
    Null,
}

/// Where a record sits: `(rec, root, parent, key)` of the reference decoder (tape nodes).
#[derive(Clone, Copy)]
struct Ctx {
    rec: u32,
    parent: Option<u32>,
    key: Option<u32>,
}

const ROOT: u32 = 0;

/// `_is_type(v, t)`.
fn is_type(view: Option<View<'_>>, ty: JsonType) -> bool {
    let Some(view) = view else { return false };
    match ty {
        JsonType::String => matches!(view, View::Str(_)),
        JsonType::Number => matches!(view, View::Int(_) | View::JFloat(_)),
        JsonType::Bool => matches!(view, View::Bool(_)),
        JsonType::Null => matches!(view, View::Null),
        JsonType::Object => matches!(view, View::Dict),
        JsonType::Array => matches!(view, View::List(_)),
    }
}

#[cold]
#[inline(never)]
fn int_out_of_range(shown: &str) -> FieldError {
    field_error(format!(
        "integer {} is out of the 64-bit range",
        text::prefix_chars(shown, 40)
    ))
}

/// `_int(v)`: None for "" (absent).
#[inline]
fn int_of(view: View<'_>) -> Result<Option<i64>, FieldError> {
    let (s, negative, group) = match view {
        View::Int(t) => {
            return match parse_i64(t.as_bytes()) {
                Some(n) => Ok(Some(n)),
                None => Err(int_out_of_range(text::int_literal_canonical(t))),
            };
        }
        View::Str("") => return Ok(None),
        View::Str(s) | View::JFloat(s) => match text::int_text(s) {
            Some((negative, g)) => (s, negative, g),
            None => return Err(expected("an integer", &view)),
        },
        _ => return Err(expected("an integer", &view)),
    };
    // Bounded before int(): over 19 digits once the leading zeros are stripped.
    let digits = group.trim_start_matches('0');
    if digits.len() > 19 {
        return Err(int_out_of_range(s));
    }
    match text::i64_of_digits(negative, digits) {
        Some(n) => Ok(Some(n)),
        None => {
            let shown = if negative {
                format!("-{digits}")
            } else {
                digits.to_owned()
            };
            Err(int_out_of_range(&shown))
        }
    }
}

/// An integer literal of the JSON grammar (`-?(0|[1-9][0-9]*)`) if it fits in an i64.
#[inline(always)]
fn parse_i64(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    // One pass: 19 digits cannot overflow a u64. A long integer (a time in ms) takes its
    // first 8 digits at once.
    let mut mag: u64 = 0;
    let mut digits = digits;
    if let Some((head, rest)) = digits.split_first_chunk::<8>() {
        mag = eight_digits(u64::from_le_bytes(*head))?;
        digits = rest;
    }
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        mag = mag * 10 + u64::from(d);
    }
    if negative {
        (mag <= 1u64 << 63).then(|| (mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

/// The value of 8 ASCII digits (the first in the lowest byte of `w`), None if one is not a
/// digit: one SWAR check, then fast_float's `parse_eight_digits_unrolled` reduction.
#[inline(always)]
fn eight_digits(w: u64) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 0x000F_4240_0000_0064; // 100 + (1_000_000 << 32)
    const MUL2: u64 = 0x0000_2710_0000_0001; // 1 + (10_000 << 32)
                                             // Each byte XOR '0' is 0..=9 iff it was a digit; +0x76 then sets its high bit iff not.
    let x = w ^ (0x30 * ONES);
    if ((((x & (0x7f * ONES)) + 0x76 * ONES) | x) & (0x80 * ONES)) != 0 {
        return None;
    }
    let v = x.wrapping_mul(10).wrapping_add(x >> 8);
    Some(
        ((v & MASK)
            .wrapping_mul(MUL1)
            .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
            >> 32,
    )
}

/// `_bool(v)`: None for "" (absent).
fn bool_of(view: View<'_>) -> Result<Option<bool>, FieldError> {
    match view {
        View::Bool(b) => return Ok(Some(b)),
        View::Int(t) => match text::int_literal_canonical(t) {
            "0" => return Ok(Some(false)),
            "1" => return Ok(Some(true)),
            _ => {}
        },
        View::Str("") => return Ok(None),
        View::Str(s) => {
            let b = text::with_lower(s, |low| match low {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            });
            if b.is_some() {
                return Ok(b);
            }
        }
        _ => {}
    }
    Err(expected("a boolean", &view))
}

#[cold]
#[inline(never)]
fn expected(what: &str, view: &View<'_>) -> FieldError {
    field_error(format!("expected {what}, got {}", describe(view)))
}

#[cold]
#[inline(never)]
fn compare_type_error(ty: &str) -> FieldError {
    FieldError::from(Failure::new(FailureKind::PyType(format!(
        "'>' not supported between instances of '{ty}' and 'int'"
    ))))
}

fn value_sign(v: &Value<'_>) -> Result<Option<Ordering>, FieldError> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => i64::from(*b).cmp(&0),
        Value::Int(t) | Value::Float(t) => text::decimal_sign(t),
        Value::PyFloat(f) => f.partial_cmp(&0.0).unwrap_or(Ordering::Equal),
        Value::Str(_) => return Err(compare_type_error("str")),
        Value::Array(_) => return Err(compare_type_error("list")),
        Value::Object(_) => return Err(compare_type_error("dict")),
    }))
}

/// Where a source's value came from, for messages (`origin` in the reference).
enum Origin<'p> {
    Path(&'p Path),
    Named(&'static str),
}

impl Origin<'_> {
    fn name(&self) -> String {
        match self {
            Origin::Path(p) if !p.keys.is_empty() => p
                .keys
                .iter()
                .map(|k| k.key.as_str())
                .collect::<Vec<_>>()
                .join("/"),
            Origin::Path(_) => "@key".to_owned(),
            Origin::Named(n) => (*n).to_owned(),
        }
    }
}

// -- the run over one frame -----------------------------------------------------------------------

/// A record to emit: the record object, its parent record, the map key above it, its location.
#[derive(Debug, Clone, Copy)]
struct Rec {
    rec: u32,
    parent: Option<u32>,
    key: Option<u32>,
    loc: u32,
}

/// A state of the record walk: an object, the last iterated item above it (its anchor), the
/// anchor's parent, the map key, the location.
#[derive(Debug, Clone, Copy)]
struct Walk {
    obj: u32,
    anchor: u32,
    aparent: Option<u32>,
    mkey: Option<u32>,
    loc: u32,
    obj_is_anchor: bool,
}

#[derive(Clone, Copy)]
enum Seg<'d> {
    Key(&'d str),
    Index(usize),
    MapKey(&'d str),
}

/// Locations ("data.positions[3]") as a tree of segments, rendered only for messages.
/// The first few nodes live inline: a frame of one record allocates nothing here.
struct Locs<'d> {
    head: [(u32, Seg<'d>); LOCS_INLINE],
    len: usize,
    rest: Vec<(u32, Seg<'d>)>,
}

const LOCS_INLINE: usize = 4;

impl<'d> Locs<'d> {
    /// Node 0 is the root (implicit).
    fn new() -> Self {
        Locs {
            head: [(0, Seg::Index(0)); LOCS_INLINE],
            len: 0,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, parent: u32, seg: Seg<'d>) -> u32 {
        match self.head.get_mut(self.len) {
            Some(x) => *x = (parent, seg),
            None => self.rest.push((parent, seg)),
        }
        self.len += 1;
        u32::try_from(self.len).unwrap_or(0)
    }

    /// Node `i + 1` (the root is implicit).
    fn get(&self, i: usize) -> Option<&(u32, Seg<'d>)> {
        if i >= self.len {
            return None;
        }
        match self.head.get(i) {
            Some(x) => Some(x),
            None => self.rest.get(i - LOCS_INLINE),
        }
    }

    #[cold]
    #[inline(never)]
    fn render(&self, mut at: u32) -> String {
        let mut segs = Vec::new();
        while let Some(&(parent, seg)) = at.checked_sub(1).and_then(|i| self.get(i as usize)) {
            segs.push(seg);
            at = parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
                Seg::MapKey(k) => {
                    out.push('.');
                    out.push_str(text::prefix_chars(k, 40));
                    if text::char_len_over(k, 40) {
                        out.push_str("...");
                    }
                }
            }
        }
        out
    }
}

struct Run<'a, 't, 's> {
    eng: &'a Engine,
    ex: &'a Exchange,
    st: &'s mut State,
    doc: Doc<'a, 't>,
    /// The record whose members are in `st.vals` (MISSING: none).
    gathered: u32,
}

impl<'a: 't, 't> Run<'a, 't, '_> {
    /// The view of a value that does not outlive the call.
    #[inline(always)]
    fn view_of<'x>(&'x self, v: &'x Cur<'a>) -> View<'x> {
        match v {
            Cur::N(i) => node_view(&self.doc, *i),
            Cur::C(c) => value_view(c),
            Cur::Str(s) => View::Str(s),
            Cur::JFloat(s) => View::JFloat(s),
            Cur::Bool(b) => View::Bool(*b),
            Cur::Typed(_) => View::Typed,
            Cur::Absent(_) => View::Null,
        }
    }

    /// A frame string node's text with the input's lifetime (a copy if it had escapes).
    #[inline(always)]
    fn node_cow(&self, i: u32) -> Cow<'a, str> {
        match self.doc.raw(i) {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.doc.text(i).to_owned()),
        }
    }

    /// The bytes of an unescaped scalar node (None: escaped), as a byte slice of the input:
    /// numbers need no char-boundary checks.
    #[inline(always)]
    fn raw_bytes(&self, n: tape::Node) -> Option<&'a [u8]> {
        if n.flags & tape::ESCAPED != 0 {
            return None;
        }
        let a = n.a as usize;
        self.doc
            .text
            .as_bytes()
            .get(a..a.saturating_add(n.b as usize))
    }

    /// [`Doc::raw`] of a node already read.
    #[inline(always)]
    fn raw_str(&self, n: tape::Node) -> Option<&'a str> {
        if n.flags & tape::ESCAPED != 0 {
            return None;
        }
        let a = n.a as usize;
        self.doc.text.get(a..a.saturating_add(n.b as usize))
    }

    /// The text of a str, `_JsonFloat` or int (`str(n)`), with the frame's lifetime.
    fn cur_text(&self, v: &Cur<'a>) -> Option<Cow<'a, str>> {
        match v {
            Cur::N(i) => match self.doc.tag(*i) {
                tape::STR | tape::FLOAT => Some(self.node_cow(*i)),
                tape::INT => {
                    let t = self.doc.raw(*i)?;
                    Some(Cow::Borrowed(text::int_literal_canonical(t)))
                }
                _ => None,
            },
            Cur::C(Value::Str(s) | Value::Float(s)) => Some(Cow::Borrowed(s.as_ref())),
            Cur::C(Value::Int(t)) => Some(Cow::Borrowed(text::int_literal_canonical(t))),
            Cur::Str(s) | Cur::JFloat(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[inline(always)]
    fn got_view(&self, g: Got) -> Option<View<'t>> {
        match g {
            Got::Missing => None,
            Got::N(i) | Got::Key(i) => Some(node_view(&self.doc, i)),
            Got::Null => Some(View::Null),
        }
    }

    /// `canonical` of what `_get` found (as `canonical(got_view(g))`, without the view).
    #[inline(always)]
    fn got_canonical(&self, g: Got) -> Option<&'t str> {
        let i = match g {
            Got::N(i) | Got::Key(i) => i,
            Got::Missing | Got::Null => return None,
        };
        match self.doc.tag(i) {
            tape::STR | tape::FLOAT => Some(self.doc.text(i)),
            tape::INT => Some(text::int_literal_canonical(self.doc.text(i))),
            tape::TRUE => Some("true"),
            tape::FALSE => Some("false"),
            _ => None,
        }
    }

    #[inline(always)]
    fn present(&self, g: Got) -> bool {
        match g {
            Got::Missing | Got::Null => false,
            Got::N(i) => self.doc.tag(i) != tape::NULL,
            Got::Key(_) => true,
        }
    }

    /// The value of key `id` in object node `obj` (the last duplicate wins; large objects are
    /// indexed by the parser, so this is never linear in a frame-controlled size).
    #[inline]
    fn member(&mut self, obj: u32, id: u32, key: &str) -> Option<u32> {
        self.doc.get(obj, id, key)
    }

    /// The gathered member a path's first key names (`MISSING` if the record or root lacks
    /// it), or None when that member was not gathered for this context.
    #[inline(always)]
    fn gathered_first(&self, path: &Path, ctx: Ctx) -> Option<u32> {
        let slot = match (path.base, path.rec_slot, path.root_slot) {
            (Base::Rec, Some(slot), _) if ctx.rec == self.gathered => {
                return self.st.vals.get(usize::from(slot)).copied();
            }
            (Base::Rec, _, Some(slot)) if ctx.rec == ROOT => slot,
            (Base::Root, _, Some(slot)) => slot,
            (Base::Parent, _, Some(slot)) if ctx.parent == Some(ROOT) => slot,
            _ => return None,
        };
        self.st.root_vals.get(usize::from(slot)).copied()
    }

    /// `_get(path, rec, root, parent, key)`.
    #[inline(always)]
    fn get(&mut self, path: &Path, ctx: Ctx) -> Got {
        // The common case, inline: a one-key path whose member was gathered.
        if path.keys.len() == 1 {
            if let Some(v) = self.gathered_first(path, ctx) {
                return if v == MISSING {
                    Got::Missing
                } else {
                    Got::N(v)
                };
            }
        }
        self.get_path(path, ctx)
    }

    /// [`Run::get`] in general.
    #[inline(never)]
    fn get_path(&mut self, path: &Path, ctx: Ctx) -> Got {
        let mut keys = path.keys.as_slice();
        if let Some(v) = self.gathered_first(path, ctx) {
            if v == MISSING {
                return Got::Missing;
            }
            let mut cur = v;
            for k in keys.get(1..).unwrap_or_default() {
                cur = match self.doc.tag(cur) {
                    tape::OBJECT => match self.member(cur, k.id, &k.key) {
                        Some(v) => v,
                        None => return Got::Missing,
                    },
                    tape::ARRAY => match k.index.and_then(|i| self.doc.item(cur, i)) {
                        Some(v) => v,
                        None => return Got::Missing,
                    },
                    _ => return Got::Missing,
                };
            }
            return Got::N(cur);
        }
        let mut cur = match path.base {
            Base::Rec => ctx.rec,
            Base::Root => ROOT,
            Base::Parent => match ctx.parent {
                Some(p) => p,
                None if path.keys.is_empty() => return Got::Null,
                None => return Got::Missing,
            },
            Base::Key => return ctx.key.map_or(Got::Missing, Got::Key),
        };
        keys = keys.get(..).unwrap_or_default();
        for k in keys {
            cur = match self.doc.tag(cur) {
                tape::OBJECT => match self.member(cur, k.id, &k.key) {
                    Some(v) => v,
                    None => return Got::Missing,
                },
                tape::ARRAY => match k.index.and_then(|i| self.doc.item(cur, i)) {
                    Some(v) => v,
                    None => return Got::Missing,
                },
                _ => return Got::Missing,
            };
        }
        Got::N(cur)
    }

    #[inline(never)]
    fn frame(&mut self, raw: &'a str, out: &mut FrameOut<'a>) -> Result<(), Failure> {
        self.gather_root();
        self.st.frame_gen += 1;
        if self.st.frame_conds.len() != self.eng.plan.frame_conds {
            self.st.frame_conds = vec![0; self.eng.plan.frame_conds];
        }
        let ctx = Ctx {
            rec: ROOT,
            parent: None,
            key: None,
        };
        let ex = self.ex;
        let Some(router) = &ex.router else {
            for route in &ex.routes {
                if self.cond(&route.when, ctx)? {
                    return self.emit_route(route, out);
                }
            }
            return self.unrecognized(raw, out);
        };
        let mut hit = 0u64;
        for key in &router.keys {
            let got = match key.slot {
                Some(slot) => match self.st.root_vals.get(usize::from(slot)) {
                    Some(&v) if v != MISSING => Got::N(v),
                    _ => Got::Missing,
                },
                None => self.get(&key.path, ctx),
            };
            if key.present | key.absent != 0 {
                hit |= if self.present(got) {
                    key.present
                } else {
                    key.absent
                };
            }
            if !key.types.is_empty() {
                let view = self.got_view(got);
                for &(ty, m) in &key.types {
                    if is_type(view, ty) {
                        hit |= m;
                    }
                }
            }
            if key.table.is_empty() {
                continue;
            }
            let Some(mut t) = self.got_canonical(got) else {
                continue;
            };
            if let Some(sep) = key.before.as_deref() {
                t = cut_before(t, sep);
            }
            match Packed::key(t.as_bytes(), key.ci) {
                Some(k) => {
                    for ((_, m), p) in key.table.iter().zip(&key.packed) {
                        if *p == k {
                            hit |= m;
                        }
                    }
                }
                None => with_key(t, key.ci, |k| {
                    for (v, m) in &key.table {
                        if k.eq(v) {
                            hit |= m;
                        }
                    }
                }),
            }
        }
        for (i, (route, &need)) in ex.routes.iter().zip(&router.need).enumerate() {
            if need & !hit != 0 {
                continue;
            }
            let held = if need != 0 && router.exact >> i & 1 == 1 {
                true
            } else {
                let covered = router.covered.get(i).copied().unwrap_or(0);
                match &route.when {
                    // The parts its groups cover hold: the others decide.
                    Cond::All(cs) if covered != 0 && need != 0 => {
                        let mut all = true;
                        for (j, x) in cs.iter().enumerate() {
                            if (j >= 64 || covered >> j & 1 == 0) && !self.cond(x, ctx)? {
                                all = false;
                                break;
                            }
                        }
                        all
                    }
                    when => self.cond(when, ctx)?,
                }
            };
            if held {
                return self.emit_route(route, out);
            }
        }
        self.unrecognized(raw, out)
    }

    fn unrecognized(&mut self, raw: &'a str, out: &mut FrameOut<'a>) -> Result<(), Failure> {
        let ctx = Ctx {
            rec: ROOT,
            parent: None,
            key: None,
        };
        let mut topic = Slot::None;
        let ex = self.ex;
        for p in &ex.topic_keys {
            let got = self.get(p, ctx);
            if let Some(c) = self.got_canonical(got) {
                topic = Slot::Str(match got {
                    Got::N(i) | Got::Key(i)
                        if matches!(self.doc.tag(i), tape::STR | tape::FLOAT) =>
                    {
                        self.node_cow(i)
                    }
                    _ => Cow::Owned(c.to_owned()),
                });
                break;
            }
        }
        let ts = self.envelope_time()?;
        out.push(
            Shape::Unrecognized,
            [Slot::Exchange, ts, topic, Slot::Str(Cow::Borrowed(raw))],
        );
        Ok(())
    }

    /// `_envelope_time`: the first envelope time that is an integer, else now.
    fn envelope_time(&mut self) -> Result<Slot<'a>, Failure> {
        let ctx = Ctx {
            rec: ROOT,
            parent: None,
            key: None,
        };
        let ex = self.ex;
        for p in &ex.envelope_ts {
            let got = self.get(p, ctx);
            if !self.present(got) {
                continue;
            }
            let Some(view) = self.got_view(got) else {
                continue;
            };
            match int_of(view) {
                Ok(Some(n)) => return Ok(Slot::Int(seconds_to_ms(n))),
                Ok(None) => continue,
                Err(e) => match *e.0 {
                    FieldErrorKind::Msg(_) => continue,
                    FieldErrorKind::Py(f) => return Err(f),
                },
            }
        }
        Ok(Slot::Now)
    }

    /// `_emit_route`.
    fn emit_route(&mut self, route: &'a Route, out: &mut FrameOut<'a>) -> Result<(), Failure> {
        let mut env_ts: Option<Slot<'a>> = None;
        let mut locs = Locs::new();
        let mut recs = std::mem::take(&mut self.st.recs);
        let result = self.emit_records(route, &mut locs, &mut recs, &mut env_ts, out);
        self.st.recs = recs;
        result
    }

    fn emit_records(
        &mut self,
        route: &'a Route,
        locs: &mut Locs<'t>,
        recs: &mut Vec<Rec>,
        env_ts: &mut Option<Slot<'a>>,
        out: &mut FrameOut<'a>,
    ) -> Result<(), Failure> {
        let mut walked = false;
        for emit in &route.emits {
            // The previous emit's records, if it walked the same steps (a walk that failed
            // returned above).
            if !(walked && emit.same_records) {
                recs.clear();
                self.records(route, emit, locs, recs)?;
                walked = true;
            }
            for r in recs.iter().copied() {
                let ctx = Ctx {
                    rec: r.rec,
                    parent: r.parent,
                    key: r.key,
                };
                self.gather(emit, r.rec);
                if let Some(w) = &emit.when {
                    if !self.cond(w, ctx)? {
                        continue;
                    }
                }
                let start = out.slots.len();
                if start == 0 {
                    out.slots.reserve(recs.len().saturating_mul(emit.nslots));
                    out.events.reserve(recs.len());
                }
                out.slots.resize_with(start + emit.nslots, || Slot::None);
                let slots = out.slots.get_mut(start..).unwrap_or_default();
                if let Some(s) = slots.first_mut() {
                    *s = Slot::Exchange;
                }
                for &(i, c) in &emit.init_consts {
                    if let Some(s) = slots.get_mut(i as usize) {
                        put(s, Slot::Const(c));
                    }
                }
                self.fields(route, emit, slots, ctx, locs, r.loc)?;
                if matches!(slots.get(1), Some(Slot::None)) {
                    if env_ts.is_none() {
                        *env_ts = Some(self.envelope_time()?);
                    }
                    if let (Some(ts), Some(s)) = (&*env_ts, slots.get_mut(1)) {
                        *s = ts.clone();
                    }
                }
                out.close(Shape::Kind(emit.kind), start);
            }
        }
        self.gathered = MISSING;
        Ok(())
    }

    /// Look up the root's members that root paths start with, once per frame.
    fn gather_root(&mut self) {
        let ex = self.ex;
        let vals = &mut self.st.root_vals;
        vals.clear();
        vals.resize(ex.root_keys.len(), MISSING);
        gather_members(&self.doc, ROOT, &ex.root_slot_of, vals);
    }

    /// Look up the record's members that the emit's record paths start with, once.
    #[inline]
    fn gather(&mut self, emit: &Emit, rec: u32) {
        let vals = &mut self.st.vals;
        vals.clear();
        vals.resize(emit.rec_keys.len(), MISSING);
        gather_members(&self.doc, rec, &emit.slot_of, vals);
        self.gathered = rec;
    }

    /// `_records`: the records of an emit, with their parent, map key and location.
    fn records(
        &mut self,
        route: &Route,
        emit: &'a Emit,
        locs: &mut Locs<'t>,
        out: &mut Vec<Rec>,
    ) -> Result<(), Failure> {
        let mut states = std::mem::take(&mut self.st.walk);
        let mut next = std::mem::take(&mut self.st.walk_next);
        states.clear();
        states.push(Walk {
            obj: ROOT,
            anchor: ROOT,
            aparent: None,
            mkey: None,
            loc: 0,
            obj_is_anchor: true,
        });
        let result = self.walk(route, emit, locs, &mut states, &mut next);
        if result.is_ok() {
            out.extend(states.iter().map(|s| Rec {
                rec: s.obj,
                parent: if s.obj_is_anchor {
                    s.aparent
                } else {
                    Some(s.anchor)
                },
                key: s.mkey,
                loc: s.loc,
            }));
        }
        self.st.walk = states;
        self.st.walk_next = next;
        result
    }

    /// The steps of an emit's records, from `states` (the result is left in `states`).
    fn walk(
        &mut self,
        route: &Route,
        emit: &'a Emit,
        locs: &mut Locs<'t>,
        states: &mut Vec<Walk>,
        next: &mut Vec<Walk>,
    ) -> Result<(), Failure> {
        let doc = self.doc;
        let not_object = |locs: &Locs<'_>, at: u32, got: String| {
            let w = locs.render(at);
            Failure::at(
                &route.channel,
                w.clone(),
                format!("{w}: expected an object, got {got}"),
            )
        };
        for step in &emit.records {
            next.clear();
            for s in states.iter() {
                // A member of the root that routing already gathered: no lookup.
                let gathered = match s.obj {
                    ROOT => (self.ex.root_slot_of.get(step.id as usize))
                        .and_then(|&slot| self.st.root_vals.get(usize::from(slot))),
                    _ => None,
                };
                let v = match gathered {
                    Some(&v) => (v != MISSING).then_some(v),
                    None => self.member(s.obj, step.id, &step.key),
                };
                let key: &'t str = &step.key;
                let here = locs.push(s.loc, Seg::Key(key));
                match step.iter {
                    Iter::None => match v {
                        Some(o) if doc.tag(o) == tape::OBJECT => next.push(Walk {
                            obj: o,
                            loc: here,
                            obj_is_anchor: false,
                            ..*s
                        }),
                        _ => {
                            let got = v.map_or_else(
                                || "nothing".to_owned(),
                                |x| describe(&node_view(&doc, x)),
                            );
                            return Err(not_object(locs, here, got));
                        }
                    },
                    Iter::Array => match v.map(|x| doc.tag(x)) {
                        None | Some(tape::NULL) => continue,
                        Some(tape::ARRAY) => {
                            let arr = v.unwrap_or(0);
                            for (i, item) in doc.items(arr).into_iter().flatten().enumerate() {
                                let at = locs.push(here, Seg::Index(i));
                                if doc.tag(item) != tape::OBJECT {
                                    return Err(not_object(
                                        locs,
                                        at,
                                        describe(&node_view(&doc, item)),
                                    ));
                                }
                                next.push(Walk {
                                    obj: item,
                                    anchor: item,
                                    aparent: Some(s.anchor),
                                    mkey: s.mkey,
                                    loc: at,
                                    obj_is_anchor: true,
                                });
                            }
                        }
                        Some(_) => {
                            let w = locs.render(here);
                            let got = describe(&node_view(&doc, v.unwrap_or(0)));
                            return Err(Failure::at(
                                &route.channel,
                                w.clone(),
                                format!("{w}: expected an array, got {got}"),
                            ));
                        }
                    },
                    Iter::Map => match v.map(|x| doc.tag(x)) {
                        None | Some(tape::NULL) => continue,
                        Some(tape::OBJECT) => {
                            for (mk, item) in doc.dedup_members(v.unwrap_or(0)) {
                                let at = locs.push(here, Seg::MapKey(doc.text(mk)));
                                if doc.tag(item) != tape::OBJECT {
                                    return Err(not_object(
                                        locs,
                                        at,
                                        describe(&node_view(&doc, item)),
                                    ));
                                }
                                next.push(Walk {
                                    obj: item,
                                    anchor: item,
                                    aparent: Some(s.anchor),
                                    mkey: Some(mk),
                                    loc: at,
                                    obj_is_anchor: true,
                                });
                            }
                        }
                        Some(_) => {
                            let got = describe(&node_view(&doc, v.unwrap_or(0)));
                            return Err(not_object(locs, here, got));
                        }
                    },
                }
            }
            std::mem::swap(states, next);
        }
        Ok(())
    }

    /// Evaluate an emit's fields into a record's event slots (`loc`: the record's location).
    /// The dense Hot table drives the loop; a Field is read only when needed.
    #[inline(never)]
    fn fields(
        &mut self,
        route: &Route,
        emit: &'a Emit,
        slots: &mut [Slot<'a>],
        ctx: Ctx,
        locs: &Locs<'_>,
        loc: u32,
    ) -> Result<(), Failure> {
        let float = self.eng.numbers == Numbers::Float;
        for h in &emit.hot {
            if !self.fast_field(emit, h, slots, ctx, float) {
                self.field(route, emit, h, slots, ctx, || locs.render(loc))?;
            }
        }
        Ok(())
    }

    /// A field in the common cases, by its [`Hot`] entry: a gathered or `any` frame value
    /// converted by [`Run::fast_store`], an absent optional value's default, a constant, a
    /// mapped enum, a re-signed float. false: nothing was stored, and [`Run::field`] evaluates
    /// the field in general (which decides the same, and makes every error). One copy of this
    /// runs every field of every emit: what is unusual stays out of it.
    #[inline(always)]
    fn fast_field(
        &mut self,
        emit: &'a Emit,
        h: &Hot,
        slots: &mut [Slot<'a>],
        ctx: Ctx,
        float: bool,
    ) -> bool {
        let v = match h.path {
            HotPath::Rec if ctx.rec == self.gathered => self.st.vals.get(usize::from(h.gslot)),
            HotPath::Root => self.st.root_vals.get(usize::from(h.gslot)),
            HotPath::NoSource => Some(&MISSING),
            HotPath::Any => return self.fast_any(emit, h, slots, ctx, float),
            HotPath::Interned | HotPath::Bool => {
                if let Some(out) = slots.get_mut(h.slot as usize) {
                    put(
                        out,
                        match h.path {
                            HotPath::Interned => Slot::Interned(h.aux),
                            _ => Slot::Bool(h.aux != 0),
                        },
                    );
                }
                return true;
            }
            HotPath::Map if ctx.rec == self.gathered => {
                let Some(value) = self.fast_map(emit, h, ctx, slots) else {
                    return false;
                };
                if let Some(out) = slots.get_mut(h.slot as usize) {
                    put(out, value);
                }
                return true;
            }
            HotPath::Signed if float && ctx.rec == self.gathered => {
                let Some(x) = self.fast_signed(emit, h, ctx) else {
                    return false;
                };
                if let Some(out) = slots.get_mut(h.slot as usize) {
                    put(out, Slot::Float(x));
                }
                return true;
            }
            _ => None,
        };
        let Some(&(mut v)) = v else { return false };
        if h.when {
            // The Field is read only for a `when` (a failing one: the general path fails).
            let w = emit.fields.get(h.field as usize);
            match w.and_then(|f| f.source.as_ref()?.when.as_ref()) {
                Some(w) => match self.cond(w, ctx) {
                    Ok(true) => {}
                    Ok(false) => v = MISSING,
                    Err(_) => return false,
                },
                None => return false,
            }
        }
        self.fast_value(emit, h, v, slots, float)
    }

    /// The value of `v` (MISSING: none) stored: the default of an absent optional value, or
    /// [`Run::fast_store`]. false: take the general path.
    #[inline(always)]
    fn fast_value(
        &mut self,
        emit: &'a Emit,
        h: &Hot,
        v: u32,
        slots: &mut [Slot<'a>],
        float: bool,
    ) -> bool {
        // MISSING is no node: it reads as null.
        let n = self.doc.node(v);
        if n.tag == tape::NULL {
            if h.required {
                return false;
            }
            if let Some(out) = slots.get_mut(h.slot as usize) {
                put(out, h.default.map_or(Slot::None, Slot::Const));
            }
            return true;
        }
        self.fast_store(emit, h, n, slots, float)
    }

    /// A [`Field::fast_any`] field: the first of its paths with a value (not null).
    #[inline(always)]
    fn fast_any(
        &mut self,
        emit: &'a Emit,
        h: &Hot,
        slots: &mut [Slot<'a>],
        ctx: Ctx,
        float: bool,
    ) -> bool {
        let Some(Op::Any(args)) = (emit.fields.get(h.field as usize))
            .and_then(|f| f.source.as_ref())
            .map(|s| &s.op)
        else {
            return false;
        };
        let mut found = MISSING;
        for alt in args {
            if let Op::Path(p) = &alt.op {
                match self.get(p, ctx) {
                    Got::Missing | Got::Null => {}
                    Got::N(i) if self.doc.tag(i) == tape::NULL => {}
                    Got::N(i) => {
                        found = i;
                        break;
                    }
                    // A map key is a string made here: the general path.
                    Got::Key(_) => return false,
                }
            }
        }
        self.fast_value(emit, h, found, slots, float)
    }

    /// `_convert` of a frame value (not null) in the common cases, stored into the field's
    /// slot (and a symbol's raw slot): a decimal string or number, an integer, a known enum
    /// string, a plain string, a boolean. false: take the general path, which also makes the
    /// errors.
    #[inline(always)]
    fn fast_store(
        &mut self,
        emit: &'a Emit,
        h: &Hot,
        n: tape::Node,
        slots: &mut [Slot<'a>],
        float: bool,
    ) -> bool {
        let value = match (h.ty, n.tag) {
            (FieldType::Decimal, tape::STR | tape::FLOAT) if float => {
                // One pass for the usual short decimals (checked and converted); anything
                // else: the general path.
                match self.raw_bytes(n).and_then(text::decimal_float_bytes) {
                    Some(x) => Slot::Float(x),
                    None => return false,
                }
            }
            (FieldType::Decimal, tape::STR | tape::FLOAT) => match self.raw_str(n) {
                Some(t)
                    if !t.is_empty()
                        && text::is_decimal_text(t)
                        && text::decimal_constructible(t) =>
                {
                    Slot::Decimal(Cow::Borrowed(t))
                }
                _ => return false,
            },
            (FieldType::Decimal | FieldType::Int | FieldType::Time, tape::INT) => {
                let Some(i) = self.raw_bytes(n).and_then(parse_i64) else {
                    return false;
                };
                match h.ty {
                    FieldType::Int => Slot::Int(i),
                    FieldType::Time => Slot::Int(seconds_to_ms(i)),
                    // Exactly representable: float(str(i)) is i as f64.
                    _ if float && i.unsigned_abs() <= 1 << 53 => Slot::Float(i as f64),
                    _ => return false,
                }
            }
            (FieldType::Bool, tape::TRUE) => Slot::Bool(true),
            (FieldType::Bool, tape::FALSE) => Slot::Bool(false),
            (FieldType::Enum, tape::STR) => {
                let (Some(f), Some(k)) = (
                    emit.fields.get(h.field as usize),
                    self.raw_bytes(n).and_then(Packed::of),
                ) else {
                    return false;
                };
                match f.packed_values.iter().position(|p| *p == k) {
                    Some(i) => f
                        .values
                        .get(i)
                        .map_or(Slot::None, |(_, id)| Slot::Interned(*id)),
                    None => return false,
                }
            }
            (FieldType::Text, tape::STR) => {
                let Some(t) = self.raw_str(n) else {
                    return false;
                };
                Slot::Str(match h.case {
                    Case::Keep => Cow::Borrowed(t),
                    Case::Lower => text::lower(t),
                    Case::Upper => text::upper(t),
                })
            }
            (FieldType::Symbol, tape::STR) => {
                let Some(t) = self.raw_str(n) else {
                    return false;
                };
                let (unified, raw) = self.symbol(Cow::Borrowed(t));
                if let Some(out) = slots.get_mut(h.slot as usize) {
                    put(out, unified);
                }
                if let Some(out) = slots.get_mut(h.aux as usize) {
                    put(out, raw);
                }
                return true;
            }
            _ => return false,
        };
        if let Some(out) = slots.get_mut(h.slot as usize) {
            put(out, value);
        }
        true
    }

    /// `_field` in general: evaluate, convert, default, and store one field (and its raw
    /// symbol), or fail with the field's error. Cold: the paths to it are laid out away from
    /// the fast ones (a plan's few general fields run it all the same).
    #[cold]
    #[inline(never)]
    fn field(
        &mut self,
        route: &Route,
        emit: &'a Emit,
        h: &Hot,
        slots: &mut [Slot<'a>],
        ctx: Ctx,
        loc: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        let Some(f) = emit.fields.get(h.field as usize) else {
            return Ok(());
        };
        let value = match &f.source {
            Some(s) => self.source(s, ctx, slots),
            None => Ok(ABSENT),
        };
        match value.and_then(|v| self.finish_field(f, v, slots)) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.field_failure(route, emit, f, e, loc)),
        }
    }

    /// The failure of a field: `{kind}.{field}[ at {loc}][ (from {paths})]: {message}`.
    #[cold]
    #[inline(never)]
    fn field_failure(
        &self,
        route: &Route,
        emit: &Emit,
        f: &Field,
        e: FieldError,
        loc: impl FnOnce() -> String,
    ) -> Failure {
        match *e.0 {
            FieldErrorKind::Py(p) => p,
            FieldErrorKind::Msg(m) => {
                let kind = &self.eng.plan.kinds[emit.kind].name;
                let loc = loc();
                let at = if loc.is_empty() {
                    String::new()
                } else {
                    format!(" at {loc}")
                };
                let wire = if f.source.is_some() {
                    format!(" (from {})", f.source_paths)
                } else {
                    String::new()
                };
                Failure::at(
                    &route.channel,
                    f.name.clone(),
                    format!("{kind}.{}{at}{wire}: {m}", f.name),
                )
            }
        }
    }

    /// Convert a field's value (or take its default) into its slot.
    #[inline]
    fn finish_field(
        &mut self,
        f: &'a Field,
        v: Cur<'a>,
        slots: &mut [Slot<'a>],
    ) -> Result<(), FieldError> {
        let unmapped = match v {
            Cur::Absent(u) => u,
            v => {
                let mut raw = None;
                let mut value = Slot::None;
                match self.convert(v, f, &mut value, &mut raw)? {
                    None => {
                        if let Some(out) = slots.get_mut(f.slot) {
                            put(out, value);
                        }
                        if let (Some(r), Some(raw)) = (f.raw_slot, raw) {
                            if let Some(x) = slots.get_mut(r) {
                                put(x, raw);
                            }
                        }
                        return Ok(());
                    }
                    Some(u) => u,
                }
            }
        };
        if f.required {
            return Err(missing(unmapped));
        }
        if let Some(out) = slots.get_mut(f.slot) {
            put(out, f.default.map_or(Slot::None, Slot::Const));
        }
        Ok(())
    }

    /// A mapped enum field ([`FastMap`]) in the common case: the first alternative whose
    /// `when` holds and whose value is a known key, mapping to an enum value. None: take the
    /// general path (nothing mapped, odd values, failures, messages), which decides the same.
    #[inline]
    fn fast_map(
        &mut self,
        emit: &'a Emit,
        h: &Hot,
        ctx: Ctx,
        slots: &[Slot<'a>],
    ) -> Option<Slot<'a>> {
        let f = emit.fields.get(h.field as usize)?;
        let (fm, s) = (f.fast_map.as_ref()?, f.source.as_ref()?);
        let srcs = match &s.op {
            Op::Any(args) => args.as_slice(),
            _ => std::slice::from_ref(s),
        };
        for (alt, src) in fm.alts.iter().zip(srcs) {
            if let Some(w) = &src.when {
                if !self.cond(w, ctx).ok()? {
                    continue;
                }
            }
            let t: &str = match alt.from {
                MapFrom::Rec(slot) => {
                    let v = *self.st.vals.get(usize::from(slot))?;
                    if v == MISSING {
                        continue;
                    }
                    match self.doc.tag(v) {
                        tape::STR | tape::FLOAT => self.doc.raw(v)?,
                        tape::INT => text::int_literal_canonical(self.doc.raw(v)?),
                        tape::TRUE => "true",
                        tape::FALSE => "false",
                        tape::NULL => continue,
                        _ => return None,
                    }
                }
                MapFrom::SignOf(slot) => match self.slot_sign(slots.get(slot)?).ok()? {
                    None => continue,
                    Some(Ordering::Greater) => "positive",
                    Some(Ordering::Less) => "negative",
                    Some(Ordering::Equal) => "zero",
                },
            };
            let found = match Packed::key(t.as_bytes(), alt.ci) {
                Some(k) => (alt.packed.iter().position(|p| *p == k))
                    .and_then(|i| alt.entries.get(i))
                    .map(|(_, id)| *id),
                None => with_key(t, alt.ci, |k| {
                    alt.entries.iter().find(|(x, _)| k.eq(x)).map(|(_, id)| *id)
                }),
            };
            match found {
                Some(id) => return id.map(Slot::Interned),
                None => continue, // unmapped: the next alternative
            }
        }
        None
    }

    /// A [`Field::fast_signed`] field in float mode, without building the re-signed text:
    /// `float("-" + digits)` is `-float(digits)`. None: take the general path (absent values,
    /// bad numbers).
    #[inline]
    fn fast_signed(&mut self, emit: &'a Emit, h: &Hot, ctx: Ctx) -> Option<f64> {
        let f = emit.fields.get(h.field as usize)?;
        let (slot, s) = (f.fast_signed?, f.source.as_ref()?);
        let v = *self.st.vals.get(usize::from(slot))?;
        if v == MISSING {
            return None;
        }
        let n = self.doc.node(v);
        let t: &[u8] = match n.tag {
            tape::STR | tape::FLOAT => self.raw_bytes(n)?,
            // str(-0) is "0".
            tape::INT => match self.raw_bytes(n)? {
                b"-0" => b"0",
                t => t,
            },
            _ => return None,
        };
        // A decimal text has at most one sign, so |float(t)| is float of its digits.
        let x = text::decimal_float_bytes(t)?;
        let mut negative = t.first() == Some(&b'-');
        if let Some(sb) = &s.sign_by {
            let got = self.get(&sb.path, ctx);
            let (neg, pos) = match self.got_canonical(got) {
                Some(c) => sign_texts(sb, c),
                None => (sb.negative.null, sb.positive.null),
            };
            if neg {
                negative = true;
            } else if pos {
                negative = false;
            }
        }
        if s.negate {
            negative = !negative;
        }
        Some(if negative { -x.abs() } else { x.abs() })
    }

    /// The sign of a slot value (`n > 0`, `n < 0`), or None for None; a text is a TypeError.
    fn slot_sign(&self, slot: &Slot<'_>) -> Result<Option<Ordering>, FieldError> {
        Ok(Some(match slot {
            Slot::None | Slot::Now => return Ok(None),
            Slot::Bool(b) => i64::from(*b).cmp(&0),
            Slot::Int(i) => i.cmp(&0),
            Slot::Float(f) => f.partial_cmp(&0.0).unwrap_or(Ordering::Equal),
            Slot::Decimal(t) => text::decimal_sign(t),
            Slot::Const(id) => {
                return self
                    .eng
                    .plan
                    .consts
                    .get(*id as usize)
                    .map_or(Ok(None), value_sign)
            }
            Slot::Exchange
            | Slot::Str(_)
            | Slot::Interned(_)
            | Slot::Symbol(..)
            | Slot::RawSymbol(..)
            | Slot::Shared(_) => return Err(compare_type_error("str")),
        }))
    }

    /// The text of a str slot (for symbol_part).
    fn slot_text<'x>(&'x self, slot: &'x Slot<'_>) -> Option<&'x str> {
        match slot {
            Slot::Str(t) => Some(t),
            Slot::Symbol(id) => self.st.symbol(*id).map(|(_, unified)| unified),
            Slot::RawSymbol(id) => self.st.symbol(*id).map(|(raw, _)| raw),
            Slot::Shared(t) => Some(t),
            Slot::Interned(id) => self.eng.plan.strings.get(*id as usize).map(String::as_str),
            Slot::Const(id) => self
                .eng
                .plan
                .consts
                .get(*id as usize)
                .and_then(Value::as_str),
            _ => None,
        }
    }

    /// `_source`: a value, or `Cur::Absent`.
    fn source(
        &mut self,
        s: &'a Source,
        ctx: Ctx,
        slots: &[Slot<'a>],
    ) -> Result<Cur<'a>, FieldError> {
        if let Some(w) = &s.when {
            if !self.cond(w, ctx)? {
                return Ok(ABSENT);
            }
        }
        let (v, origin) = match &s.op {
            Op::Path(p) => match self.get(p, ctx) {
                Got::Missing | Got::Null => return Ok(ABSENT),
                Got::N(i) if self.doc.tag(i) == tape::NULL => return Ok(ABSENT),
                Got::N(i) => (Cur::N(i), Origin::Path(p)),
                Got::Key(k) => (Cur::Str(self.node_cow(k)), Origin::Path(p)),
            },
            Op::Const(c) => match c {
                Value::Null => return Ok(ABSENT),
                c => (Cur::C(c), Origin::Named("const")),
            },
            Op::Test(c) => (Cur::Bool(self.cond(c, ctx)?), Origin::Named("test")),
            Op::Any(args) => {
                let mut unmapped: Option<Box<str>> = None;
                let mut found = None;
                for alt in args {
                    match self.source(alt, ctx, slots)? {
                        Cur::Absent(u) => {
                            if unmapped.as_deref().is_none_or(str::is_empty) {
                                unmapped = u;
                            }
                        }
                        v => {
                            found = Some(v);
                            break;
                        }
                    }
                }
                match found {
                    Some(v) => (v, Origin::Named("any")),
                    None => return Ok(Cur::Absent(unmapped.filter(|u| !u.is_empty()))),
                }
            }
            Op::Sub(a, b) => {
                let a = self.source(a, ctx, slots)?;
                let b = self.source(b, ctx, slots)?;
                if matches!(a, Cur::Absent(_)) || matches!(b, Cur::Absent(_)) {
                    return Ok(ABSENT);
                }
                let ta = self.number_text(&a)?;
                let tb = self.number_text(&b)?;
                let (Some(ta), Some(tb)) = (ta, tb) else {
                    return Ok(ABSENT);
                };
                (
                    Cur::Typed(Box::new(self.exact_sub(&ta, &tb)?)),
                    Origin::Named("sub"),
                )
            }
            Op::SignOf(slot) => {
                let sign = match slots.get(*slot) {
                    Some(v) => self.slot_sign(v)?,
                    None => None,
                };
                let name = match sign {
                    None => return Ok(ABSENT),
                    Some(Ordering::Greater) => "positive",
                    Some(Ordering::Less) => "negative",
                    Some(Ordering::Equal) => "zero",
                };
                (Cur::Str(Cow::Borrowed(name)), Origin::Named("sign"))
            }
            Op::SymbolPart { slot, part } => {
                let unified = slots.get(*slot).and_then(|s| self.slot_text(s));
                match unified.and_then(|u| symbol_part(u, part)) {
                    Some(p) => (Cur::Str(Cow::Owned(p.to_owned())), Origin::Named("symbol")),
                    None => return Ok(ABSENT),
                }
            }
            Op::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Path(p) => {
                            let got = self.get(p, ctx);
                            if !json_scalar(self.got_view(got), &mut out) {
                                return Ok(ABSENT);
                            }
                        }
                    }
                }
                (Cur::Str(Cow::Owned(out)), Origin::Named("template"))
            }
        };
        if s.plain {
            return Ok(v);
        }
        self.modify(s, v, origin, ctx)
    }

    /// `_modify`: join, absent_if, map, sign_by, negate.
    fn modify(
        &mut self,
        s: &'a Source,
        mut v: Cur<'a>,
        origin: Origin<'_>,
        ctx: Ctx,
    ) -> Result<Cur<'a>, FieldError> {
        if let Some(sep) = &s.join {
            let joined = {
                let view = self.view_of(&v);
                let View::List(list) = view else {
                    return Err(field_error(format!(
                        "{}: expected an array, got {}",
                        origin.name(),
                        describe(&view)
                    )));
                };
                let views: Vec<View<'_>> = match list {
                    List::Node(arr) => self
                        .doc
                        .items(arr)
                        .into_iter()
                        .flatten()
                        .map(|x| node_view(&self.doc, x))
                        .collect(),
                    List::Plan(items) => items.iter().map(value_view).collect(),
                };
                let mut joined = String::new();
                for (i, x) in views.into_iter().enumerate() {
                    let Some(t) = canonical(x) else {
                        return Err(field_error(format!(
                            "{}: expected an array of scalars",
                            origin.name()
                        )));
                    };
                    if i > 0 {
                        joined.push_str(sep);
                    }
                    joined.push_str(t);
                }
                joined
            };
            v = Cur::Str(Cow::Owned(joined));
        }
        if let Some(set) = &s.absent_if {
            if set.contains(canonical(self.view_of(&v))) {
                return Ok(ABSENT);
            }
        }
        if s.map.is_some() {
            let mapped: Result<&'a Value<'static>, Option<Box<str>>> = {
                let view = self.view_of(&v);
                match canonical(view) {
                    None => Err(Some(describe(&view).into())),
                    Some(c) => {
                        let found = with_key(c, s.ci, |k| s.lookup_by(|x| k.eq(x)));
                        match found {
                            Some(m) => Ok(m),
                            None => Err(Some(
                                if s.ci {
                                    text::lower(c).into_owned()
                                } else {
                                    c.to_owned()
                                }
                                .into(),
                            )),
                        }
                    }
                }
            };
            match mapped {
                Err(u) => return Ok(Cur::Absent(u)),
                Ok(Value::Null) => return Ok(ABSENT),
                Ok(m) => v = Cur::C(m),
            }
        }
        if s.sign_by.is_some() || s.negate {
            let Some(mut t) = self.number_text(&v)? else {
                return Ok(ABSENT);
            };
            if let Some(sb) = &s.sign_by {
                let got = self.get(&sb.path, ctx);
                let c = self.got_canonical(got);
                let (neg, pos) = match c {
                    Some(c) => sign_texts(sb, c),
                    None => (sb.negative.null, sb.positive.null),
                };
                if neg {
                    t = Cow::Owned(format!("-{}", t.trim_start_matches(['+', '-'])));
                } else if pos {
                    t = match t {
                        Cow::Borrowed(b) => Cow::Borrowed(b.trim_start_matches(['+', '-'])),
                        Cow::Owned(o) => Cow::Owned(o.trim_start_matches(['+', '-']).to_owned()),
                    };
                }
            }
            if s.negate {
                t = match t.strip_prefix('-') {
                    Some(rest) => Cow::Owned(rest.to_owned()),
                    None => Cow::Owned(format!("-{}", t.trim_start_matches('+'))),
                };
            }
            v = Cur::JFloat(t);
        }
        Ok(v)
    }

    /// `_number_text`: the decimal text of a value; None for "" (absent).
    fn number_text(&self, v: &Cur<'a>) -> Result<Option<Cow<'a, str>>, FieldError> {
        let view = self.view_of(v);
        match view {
            View::Typed => Err(field_error("a computed value cannot be re-signed")),
            View::Int(_) => Ok(self.cur_text(v)),
            View::Str("") => Ok(None),
            View::Str(s) | View::JFloat(s) => {
                if !text::is_decimal_text(s) {
                    return Err(expected("a decimal number", &view));
                }
                Ok(self.cur_text(v))
            }
            _ => Err(expected("a decimal number", &view)),
        }
    }

    /// `_exact_sub` then `_from_decimal`: the exact difference of two decimal texts, as a
    /// Decimal text or a finite float.
    fn exact_sub(&self, a: &str, b: &str) -> Result<Num<'a>, FieldError> {
        for t in [a, b] {
            if !text::decimal_constructible(t) {
                return Err(decimal_out_of_range(t));
            }
        }
        let d = match text::exact_sub(a, b) {
            Ok(d) => d,
            Err(e) => return Err(sub_error(a, b, e)),
        };
        match self.eng.numbers {
            Numbers::Decimal => Ok(Num::D(Cow::Owned(d))),
            Numbers::Float => {
                let x = text::parse_float(&d);
                if x.is_finite() {
                    Ok(Num::F(x))
                } else {
                    Err(float_out_of_range(&text::decimal_str(&d)))
                }
            }
        }
    }

    /// `_convert` into `out`: Ok(None) when written, Ok(Some(unmapped)) for absent.
    #[inline]
    fn convert(
        &mut self,
        v: Cur<'a>,
        f: &'a Field,
        out: &mut Slot<'a>,
        raw: &mut Option<Slot<'a>>,
    ) -> Result<Option<Option<Box<str>>>, FieldError> {
        if let Cur::Typed(n) = v {
            *out = num_slot(*n);
            return Ok(None);
        }
        match f.ty {
            FieldType::Decimal => {
                let view = self.view_of(&v);
                let t = match view {
                    View::Typed => return Err(field_error("a computed value cannot be re-signed")),
                    View::Int(t) => text::int_literal_canonical(t),
                    View::Str("") => return Ok(Some(None)),
                    View::Str(s) | View::JFloat(s) => {
                        if !text::is_decimal_text(s) {
                            return Err(expected("a decimal number", &view));
                        }
                        s
                    }
                    _ => return Err(expected("a decimal number", &view)),
                };
                match self.eng.numbers {
                    Numbers::Float => *out = Slot::Float(finite_float(t)?),
                    Numbers::Decimal => {
                        if !text::decimal_constructible(t) {
                            return Err(decimal_out_of_range(t));
                        }
                        *out = Slot::Decimal(self.cur_text(&v).unwrap_or_default());
                    }
                }
            }
            FieldType::Int | FieldType::Time => match int_of(self.view_of(&v))? {
                Some(n) if f.ty == FieldType::Time => *out = Slot::Int(seconds_to_ms(n)),
                Some(n) => *out = Slot::Int(n),
                None => return Ok(Some(None)),
            },
            FieldType::Bool => match bool_of(self.view_of(&v))? {
                Some(b) => *out = Slot::Bool(b),
                None => return Ok(Some(None)),
            },
            FieldType::Enum => {
                let view = self.view_of(&v);
                let t = match view {
                    View::Int(t) => text::int_literal_canonical(t),
                    View::Str(t) | View::JFloat(t) => t,
                    _ => return Err(expected("a string", &view)),
                };
                if let Some((_, id)) = f.values.iter().find(|(x, _)| x == t) {
                    *out = Slot::Interned(*id);
                    return Ok(None);
                }
                let low = text::with_lower(t, |low| {
                    f.values.iter().find(|(x, _)| x == low).map(|(_, id)| *id)
                });
                match low {
                    Some(id) => *out = Slot::Interned(id),
                    None => return Ok(Some(Some(t.into()))),
                }
            }
            FieldType::Symbol | FieldType::Text => {
                let view = self.view_of(&v);
                if !matches!(view, View::Int(_) | View::Str(_) | View::JFloat(_)) {
                    return Err(expected("a string", &view));
                }
                let t: Cow<'a, str> = self.cur_text(&v).unwrap_or_default();
                if f.ty == FieldType::Symbol {
                    let (unified, r) = self.symbol(t);
                    *out = unified;
                    *raw = Some(r);
                } else {
                    *out = match f.case {
                        Case::Keep => Slot::Str(t),
                        Case::Lower => Slot::Str(cow_map(t, text::lower)),
                        Case::Upper => Slot::Str(cow_map(t, text::upper)),
                    }
                }
            }
        }
        Ok(None)
    }

    /// `_symbol`: unify by the first matching rule (upper-cased groups), through the symbol
    /// cache; (unified, raw) slots.
    fn symbol(&mut self, raw: Cow<'a, str>) -> (Slot<'a>, Slot<'a>) {
        let h = recent_hash(raw.as_bytes());
        let packed = Packed::of(raw.as_bytes());
        // Two ways: the hashed entry and its neighbour.
        for way in [h, h ^ 1] {
            let Some(id) = self.st.recent.get(way).and_then(|r| r.checked_sub(1)) else {
                continue;
            };
            let same = match (packed, self.st.packed.get(id as usize)) {
                (Some(k), Some(p)) => k == *p,
                _ => self
                    .st
                    .entries
                    .get(id as usize)
                    .is_some_and(|(key, _)| key.as_ref() == raw.as_ref()),
            };
            if same {
                return (Slot::Symbol(id), Slot::RawSymbol(id));
            }
        }
        self.symbol_slow(raw, h)
    }

    /// [`Run::symbol`] past the recent-symbol cache: the full cache, or the rules.
    #[inline(never)]
    fn symbol_slow(&mut self, raw: Cow<'a, str>, h: usize) -> (Slot<'a>, Slot<'a>) {
        if let Some(&id) = self.st.symbols.get(raw.as_ref()) {
            self.st.remember(h, id);
            return (Slot::Symbol(id), Slot::RawSymbol(id));
        }
        let mut unified = raw.to_string();
        for rule in &self.ex.symbols {
            if let Some(caps) = rule.regex.captures(&raw) {
                unified = rule.template.clone();
                for name in &rule.groups {
                    let val = caps.name(name).map_or("", |m| m.as_str());
                    unified = unified.replace(&format!("{{{name}}}"), &text::upper(val));
                }
                break;
            }
        }
        let unified: Arc<str> = Arc::from(unified);
        if self.st.entries.len() < SYMBOL_CACHE_MAX {
            let id = self.st.entries.len() as u32;
            let key: Arc<str> = Arc::from(raw.as_ref());
            self.st.entries.push((key.clone(), unified.clone()));
            self.st
                .packed
                .push(Packed::of(raw.as_bytes()).unwrap_or_default());
            self.st.symbols.insert(key.clone(), id);
            self.st.texts.push(key, unified);
            self.st.remember(h, id);
            return (Slot::Symbol(id), Slot::RawSymbol(id));
        }
        (Slot::Shared(unified), Slot::Str(raw))
    }

    /// `_cond`.
    fn cond(&mut self, c: &Cond, ctx: Ctx) -> Result<bool, Failure> {
        Ok(match c {
            Cond::Frame { id, cond } => {
                // Cached per frame as `frame number * 2 + value` (older numbers: not yet).
                let gen = self.st.frame_gen;
                match self.st.frame_conds.get(*id) {
                    Some(&x) if x >> 1 == gen => x & 1 == 1,
                    _ => {
                        let b = self.cond(cond, ctx)?;
                        if let Some(x) = self.st.frame_conds.get_mut(*id) {
                            *x = gen << 1 | u64::from(b);
                        }
                        b
                    }
                }
            }
            Cond::Any(cs) => {
                for x in cs {
                    if self.cond(x, ctx)? {
                        return Ok(true);
                    }
                }
                false
            }
            Cond::All(cs) => {
                for x in cs {
                    if !self.cond(x, ctx)? {
                        return Ok(false);
                    }
                }
                true
            }
            Cond::Not(x) => !self.cond(x, ctx)?,
            Cond::Exists { path, value } => {
                let got = self.get(path, ctx);
                self.present(got) == *value
            }
            Cond::Is { path, ty } => {
                let got = self.get(path, ctx);
                is_type(self.got_view(got), *ty)
            }
            Cond::Cmp {
                op,
                path,
                values,
                packed,
                ci,
                before,
            } => {
                let got = self.get(path, ctx);
                let Some(mut t) = self.got_canonical(got) else {
                    return Ok(*op == CmpOp::Ne);
                };
                if let Some(sep) = before {
                    if sep.is_empty() {
                        return Err(Failure::new(FailureKind::PyValue(
                            "empty separator".to_owned(),
                        )));
                    }
                    t = cut_before(t, sep);
                }
                if *op != CmpOp::Prefix {
                    if let Some(k) = Packed::key(t.as_bytes(), *ci) {
                        return Ok(packed.contains(&k) == (*op == CmpOp::Eq));
                    }
                }
                with_key(t, *ci, |k| match op {
                    CmpOp::Eq => values.iter().any(|v| k.eq(v)),
                    CmpOp::Ne => !values.iter().any(|v| k.eq(v)),
                    CmpOp::Prefix => values.iter().any(|v| k.starts_with(v)),
                })
            }
        })
    }
}

/// For each member of object node `obj` whose key id has a slot in `slot_of`, its value node
/// into `vals[slot]` (the last duplicate wins). Keys and values alternate in the tape; a
/// container value's subtree ends at its `a`.
#[inline(always)]
fn gather_members(doc: &Doc<'_, '_>, obj: u32, slot_of: &[u16], vals: &mut [u32]) {
    let nodes = doc.nodes;
    let Some(n) = nodes.get(obj as usize) else {
        return;
    };
    if n.tag != tape::OBJECT {
        return;
    }
    let start = obj as usize + 1;
    let Some(members) = nodes.get(start..(n.a as usize).min(nodes.len())) else {
        return;
    };
    let mut j = 0;
    while let (Some(key), Some(val)) = (members.get(j), members.get(j + 1)) {
        if let Some(v) = (slot_of.get(key.id as usize)).and_then(|&s| vals.get_mut(usize::from(s)))
        {
            *v = (start + j + 1) as u32;
        }
        j += 2;
        if val.tag >= tape::ARRAY {
            j = (val.a as usize).saturating_sub(start).max(j);
        }
    }
}

fn seconds_to_ms(n: i64) -> i64 {
    if (0..SECONDS_BELOW).contains(&n) {
        n * 1000
    } else {
        n
    }
}

fn num_slot(n: Num<'_>) -> Slot<'_> {
    match n {
        Num::F(x) => Slot::Float(x),
        Num::D(t) => Slot::Decimal(t),
    }
}

#[cold]
#[inline(never)]
fn missing(unmapped: Option<Box<str>>) -> FieldError {
    field_error(match unmapped {
        Some(u) => format!("unknown value {}", text::repr(text::prefix_chars(&u, 40))),
        None => "missing".to_owned(),
    })
}

#[cold]
#[inline(never)]
fn decimal_out_of_range(t: &str) -> FieldError {
    field_error(format!(
        "number {} is out of range",
        text::prefix_chars(t, 40)
    ))
}

#[cold]
#[inline(never)]
fn sub_error(a: &str, b: &str, e: text::SubError) -> FieldError {
    let pair = format!(
        "{} - {}",
        text::prefix_chars(a, 40),
        text::prefix_chars(b, 40)
    );
    field_error(match e {
        text::SubError::TooManyDigits => {
            format!("{pair} needs more than {} digits", text::MAX_SUB_DIGITS)
        }
        text::SubError::OutOfRange => format!("{pair} is out of range"),
    })
}

#[cold]
#[inline(never)]
fn float_out_of_range(t: &str) -> FieldError {
    field_error(format!(
        "number {} is out of range for a float",
        text::prefix_chars(t, 40)
    ))
}

/// `_finite_float`.
#[inline]
fn finite_float(t: &str) -> Result<f64, FieldError> {
    let x = text::parse_float(t);
    if x.is_finite() {
        Ok(x)
    } else {
        Err(float_out_of_range(t))
    }
}

/// `_symbol_part`: base, quote or settle of a unified symbol (BASE/QUOTE[:SETTLE[-EXPIRY]]).
fn symbol_part<'u>(unified: &'u str, part: &str) -> Option<&'u str> {
    let (base, rest) = unified.split_once('/')?;
    let (quote, settle) = rest.split_once(':').unwrap_or((rest, ""));
    match part {
        "base" => Some(base),
        "quote" => Some(quote),
        _ => {
            let s = settle.split('-').next().unwrap_or("");
            (!s.is_empty()).then_some(s)
        }
    }
}

/// Apply a `&str -> Cow` transform to a Cow, keeping a borrow when nothing changed.
fn cow_map<'a>(c: Cow<'a, str>, f: impl for<'x> Fn(&'x str) -> Cow<'x, str>) -> Cow<'a, str> {
    match c {
        Cow::Borrowed(b) => f(b),
        Cow::Owned(o) => Cow::Owned(f(&o).into_owned()),
    }
}

/// `_json_scalar` appended to `out`; false for objects, arrays and missing values.
fn json_scalar(view: Option<View<'_>>, out: &mut String) -> bool {
    let Some(view) = view else { return false };
    match view {
        View::JFloat(t) => out.push_str(t),
        View::Str(s) => text::json_string(s, out),
        View::Int(t) => out.push_str(text::int_literal_canonical(t)),
        View::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        View::Null => out.push_str("null"),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Arc<Plan> {
        let src = include_str!("../../python/pushwire/_generated/plan.py");
        let start = src.find("r\"\"\"").expect("PLAN_JSON") + 4;
        let end = start + src[start..].find("\"\"\"").expect("end of PLAN_JSON");
        Arc::new(Plan::from_json(&src[start..end]).expect("the generated plan loads"))
    }

    fn engine(ex: &str, numbers: Numbers) -> Engine {
        Engine::new(plan(), ex, numbers, Limits::default()).expect("exchange")
    }

    fn decode(e: &Engine, frame: &str) -> FrameOut<'static> {
        let mut st = State::default();
        let mut scratch = Vec::new();
        e.decode(&mut st, frame.as_bytes(), &mut scratch)
            .into_static()
    }

    /// A field of event `ev.1` of frame `ev.0`.
    fn field<'x>(e: &Engine, ev: (&'x FrameOut<'static>, usize), name: &str) -> &'x Slot<'static> {
        let (out, ev) = (ev.0, &ev.0.events[ev.1]);
        let Shape::Kind(k) = ev.shape else {
            panic!("not a kind event")
        };
        let i = e.plan.kinds[k]
            .fields
            .iter()
            .position(|f| f == name)
            .expect("field");
        &out.slots_of(ev)[i]
    }

    fn interned(e: &Engine, s: &Slot<'_>) -> String {
        match s {
            Slot::Interned(id) => e.plan.strings[*id as usize].clone(),
            other => panic!("not interned: {other:?}"),
        }
    }

    #[test]
    fn recycled_buffers_are_reused_and_empty() {
        let e = engine("woo", Numbers::Float);
        let frame = br#"{"topic":"position","ts":1,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"1","ps":"BOTH"}]}}"#;
        let mut st = State::default();
        let mut scratch = Vec::new();
        let mut out = FrameOut::default();
        e.decode_reusing(&mut st, frame, &mut scratch, &mut out);
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert_eq!(out.events.len(), 1);
        let (slots, events) = (out.slots.as_ptr() as usize, out.events.as_ptr() as usize);
        let mut again: FrameOut<'_> = out.recycle();
        assert!(again.events.is_empty() && again.slots.is_empty() && again.failure.is_none());
        // The allocations are kept (no new vector per frame).
        assert_eq!(
            (
                again.slots.as_ptr() as usize,
                again.events.as_ptr() as usize
            ),
            (slots, events)
        );
        e.decode_reusing(&mut st, frame, &mut scratch, &mut again);
        assert_eq!(again.events.len(), 1);
        assert_eq!(again.slots.as_ptr() as usize, slots);
        // The symbol slots hold ids, no references: only the cache holds the texts (unified:
        // its entry and the shared texts; raw: those and the map key).
        assert!(again.slots.iter().any(|s| matches!(s, Slot::Symbol(0))));
        let again = again.recycle();
        let (raw, unified) = &st.entries[0];
        assert_eq!((Arc::strong_count(raw), Arc::strong_count(unified)), (3, 2));
        assert_eq!(
            st.symbol_texts().get(0).as_ref().map(|(r, u)| (&**r, &**u)),
            Some(("PERP_BTC_USDT", "BTC/USDT:USDT"))
        );
        // A failure leaves no events behind.
        let mut bad = again.recycle();
        e.decode_reusing(
            &mut st,
            br#"{"topic":"position","data":{"positions":[{"h":"1"}]}}"#,
            &mut scratch,
            &mut bad,
        );
        assert!(bad.failure.is_some());
        assert!(bad.events.is_empty() && bad.slots.is_empty());
    }

    #[test]
    fn woo_v3_position() {
        let e = engine("woo", Numbers::Float);
        let frame = r#"{"topic":"position","ts":1700000000123,"data":{"positions":[
            {"s":"PERP_BTC_USDT","h":"-0.5","ps":"BOTH","aop":"30000.5","mp":"30100","lv":"10",
             "m":"CROSS","ia":"1","aq":2,"ver":7}]}}"#;
        let mut st = State::default();
        let mut scratch = Vec::new();
        let out = e
            .decode(&mut st, frame.as_bytes(), &mut scratch)
            .into_static();
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert_eq!(out.events.len(), 1);
        let ev = (&out, 0);
        assert_eq!(field(&e, ev, "symbol"), &Slot::Symbol(0));
        assert_eq!(field(&e, ev, "raw_symbol"), &Slot::RawSymbol(0));
        assert_eq!(st.symbol(0), Some(("PERP_BTC_USDT", "BTC/USDT:USDT")));
        assert_eq!(field(&e, ev, "size"), &Slot::Float(-0.5));
        assert_eq!(interned(&e, field(&e, ev, "side")), "short");
        assert_eq!(interned(&e, field(&e, ev, "margin_mode")), "cross");
        assert_eq!(field(&e, ev, "margin"), &Slot::None);
        assert_eq!(field(&e, ev, "adl_rank"), &Slot::Int(2));
        assert_eq!(field(&e, ev, "ts"), &Slot::Int(1700000000123));
    }

    #[test]
    fn symbols_past_the_full_cache_carry_their_text() {
        let e = engine("woo", Numbers::Float);
        let mut st = State::default();
        let filler: Arc<str> = Arc::from("X");
        st.entries = vec![(filler.clone(), filler); SYMBOL_CACHE_MAX];
        let frame = r#"{"topic":"position","ts":1,"data":{"positions":[
            {"s":"PERP_BTC_USDT","h":"-0.5","ps":"BOTH"}]}}"#;
        let mut scratch = Vec::new();
        let out = e
            .decode(&mut st, frame.as_bytes(), &mut scratch)
            .into_static();
        assert!(out.failure.is_none(), "{:?}", out.failure);
        let ev = (&out, 0);
        assert_eq!(
            field(&e, ev, "symbol"),
            &Slot::Shared(Arc::from("BTC/USDT:USDT"))
        );
        assert_eq!(
            field(&e, ev, "raw_symbol"),
            &Slot::Str("PERP_BTC_USDT".into())
        );
        assert_eq!(st.entries.len(), SYMBOL_CACHE_MAX);
        assert!(st.symbol_texts().get(0).is_none(), "nothing new was shared");
    }

    #[test]
    fn decimal_mode_keeps_text_and_sub_is_exact() {
        let e = engine("woo", Numbers::Decimal);
        let frame = r#"{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"10.50","f":"0.25","ver":1}]}}"#;
        let out = decode(&e, frame);
        let ev = (&out, 0);
        assert_eq!(field(&e, ev, "asset"), &Slot::Str("USDT".into()));
        assert_eq!(
            field(&e, ev, "wallet_balance"),
            &Slot::Decimal("10.50".into())
        );
        assert_eq!(field(&e, ev, "available"), &Slot::Decimal("1025E-2".into()));
        assert_eq!(field(&e, ev, "ts"), &Slot::Int(1000));
        let f = engine("woo", Numbers::Float);
        let out = decode(&f, frame);
        let ev = (&out, 0);
        assert_eq!(field(&f, ev, "available"), &Slot::Float(10.25));
    }

    #[test]
    fn errors_name_channel_and_field() {
        let e = engine("woo", Numbers::Float);
        let out = decode(
            &e,
            r#"{"topic":"position","data":{"positions":[{"h":"1"}]}}"#,
        );
        match out.failure.as_ref().map(Failure::kind) {
            Some(FailureKind::Decode {
                channel,
                field,
                message,
            }) => {
                assert_eq!(channel.as_deref(), Some("position_v3"));
                assert_eq!(field.as_deref(), Some("symbol"));
                assert_eq!(
                    message,
                    "position.symbol at data.positions[0] (from s): missing"
                );
            }
            other => panic!("{other:?}"),
        }
        let out = decode(
            &e,
            r#"{"topic":"position","data":{"positions":[{"s":"X","h":"abc"}]}}"#,
        );
        assert!(
            matches!(out.failure.as_ref().map(Failure::kind), Some(FailureKind::Decode { field: Some(f), .. }) if f == "size")
        );
        let out = decode(&e, "[1]");
        assert!(matches!(
            out.failure.as_ref().map(Failure::kind),
            Some(FailureKind::Decode { channel: None, .. })
        ));
        let out = decode(
            &e,
            r#"{"topic":"position","data":{"positions":[{"s":"X","h":"1","ver":"123456789012345678901"}]}}"#,
        );
        assert!(
            matches!(out.failure.as_ref().map(Failure::kind), Some(FailureKind::Decode { field: Some(f), .. }) if f == "version")
        );
    }

    #[test]
    fn text_frames_and_unrecognized() {
        let e = engine("xt", Numbers::Float);
        let out = decode(&e, " ping\n");
        assert_eq!(out.events[0].shape, Shape::TextFrame(0));
        let reply = &out.slots_of(&out.events[0])[2];
        assert!(
            matches!(reply, Slot::Const(id) if e.plan.consts[*id as usize] == Value::Str("pong".into()))
        );
        let out = decode(&e, r#"{"topic":"brand_new","ts":5}"#);
        assert_eq!(out.events[0].shape, Shape::Unrecognized);
        assert_eq!(
            out.slots_of(&out.events[0])[2],
            Slot::Str("brand_new".into())
        );
        assert_eq!(out.slots_of(&out.events[0])[1], Slot::Now);
    }

    #[test]
    fn gzip_frames_inflate() {
        let e = engine("htx", Numbers::Float);
        let gz = crate::inflate::tests::gzip(br#"{"op":"ping","ts":"1700000000000"}"#);
        let mut st = State::default();
        let mut scratch = Vec::new();
        let out = e.decode(&mut st, &gz, &mut scratch).into_static();
        assert_eq!(out.events.len(), 1);
        assert_eq!(
            out.slots_of(&out.events[0])[2],
            Slot::Str(r#"{"op":"pong","ts":"1700000000000"}"#.into())
        );
        let mut bad = gz.clone();
        bad.truncate(gz.len() - 1);
        let out = e.decode(&mut st, &bad, &mut scratch).into_static();
        assert!(matches!(
            out.failure.as_ref().map(Failure::kind),
            Some(FailureKind::Decode { channel: None, .. })
        ));
    }

    /// Mutated frames never panic (a small deterministic fuzz, overflow checks on in test builds).
    #[test]
    fn mutated_frames_never_panic() {
        let seeds: [(&str, &str); 5] = [
            (
                "woo",
                r#"{"topic":"position","ts":1,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"-0.5","ps":"BOTH","m":"CROSS","ver":7}]}}"#,
            ),
            (
                "woo",
                r#"{"topic":"balance","ts":1,"data":{"balances":{"USDT":{"holding":1.5e3,"frozen":"0.25"}}}}"#,
            ),
            (
                "xt",
                r#"{"topic":"order","data":{"orderId":"1","symbol":"btc_usdt","state":"FILLED","price":"1.5"}}"#,
            ),
            (
                "htx",
                r#"{"op":"notify","topic":"orders_cross.btc-usdt","ts":1,"order_id":1,"contract_code":"BTC-USDT","trade":[{"id":"1-2","trade_price":1.5,"trade_volume":2,"trade_fee":-0.1}]}"#,
            ),
            (
                "htx",
                r#"{"op":"notify","topic":"account","ts":1,"data":{"state":"3","version":2,"details":[{"currency":"USDT","equity":"10.5","profit_unreal":"0.5"}]}}"#,
            ),
        ];
        let plan = plan();
        let mut rng = crate::testutil::Rng::new();
        let alphabet = b"{}[]\",:0123456789.eE+-tfnul \\u\xff\x1f\x8b";
        for numbers in [Numbers::Float, Numbers::Decimal] {
            for (ex, seed) in seeds {
                let limits = Limits {
                    max_depth: 8,
                    max_inflated_bytes: 4096,
                    ..Limits::default()
                };
                let e = Engine::new(plan.clone(), ex, numbers, limits).expect("exchange");
                let mut st = State::default();
                for _ in 0..3000 {
                    let mut buf = crate::testutil::mutate(seed.as_bytes(), 4, alphabet, &mut rng);
                    if rng.next() % 8 == 0 {
                        buf = crate::inflate::tests::gzip(&buf);
                        let i = (rng.next() as usize) % buf.len();
                        if rng.next() % 2 == 0 {
                            buf[i] ^= 0x5a;
                        }
                    }
                    let mut scratch = Vec::new();
                    let _ = e.decode(&mut st, &buf, &mut scratch);
                }
            }
        }
    }

    /// The router picks the route evaluating every condition in order would.
    #[test]
    fn router_keeps_first_match() {
        let plan = plan();
        let mut plain = Plan::from_json(
            include_str!("../../python/pushwire/_generated/plan.py")
                .split("r\"\"\"")
                .nth(1)
                .and_then(|t| t.split("\"\"\"").next())
                .expect("PLAN_JSON"),
        )
        .expect("plan");
        for (_, ex) in &mut plain.exchanges {
            ex.router = None;
        }
        let plain = Arc::new(plain);
        for (name, ex) in &plan.exchanges {
            let router = ex.router.as_ref().expect("a router");
            let mut texts: Vec<(String, String)> = Vec::new();
            for k in &router.keys {
                let key = k
                    .path
                    .keys
                    .iter()
                    .map(|x| x.key.as_str())
                    .collect::<Vec<_>>();
                for (t, _) in &k.table {
                    texts.push((key.join("."), t.clone()));
                    texts.push((key.join("."), t.to_uppercase()));
                    texts.push((key.join("."), format!("{t}.x")));
                }
            }
            let datas = [r#""s""#, "[]", "{}", "1", "null", r#"{"positions":[]}"#];
            // Members that `exists` guards test.
            let extras = [
                r#","success":true"#,
                r#","err-code":"0""#,
                r#","err-code":5,"event":null"#,
                r#","event":"e","success":false"#,
            ];
            let mut frames = Vec::new();
            for (i, (k1, t1)) in texts.iter().enumerate() {
                for d in datas {
                    frames.push(format!(r#"{{"{k1}":"{t1}","data":{d},"code":0}}"#));
                    let x = extras[i % extras.len()];
                    frames.push(format!(r#"{{"{k1}":"{t1}","data":{d}{x}}}"#));
                    let (k2, t2) = &texts[(i * 7 + 3) % texts.len()];
                    if k2 != k1 {
                        frames.push(format!(r#"{{"{k1}":"{t1}","{k2}":"{t2}","data":{d}}}"#));
                    }
                }
            }
            let a = Engine::new(plan.clone(), name, Numbers::Float, Limits::default()).unwrap();
            let b = Engine::new(plain.clone(), name, Numbers::Float, Limits::default()).unwrap();
            for f in &frames {
                let (x, y) = (decode(&a, f), decode(&b, f));
                let shapes =
                    |o: &FrameOut<'_>| o.events.iter().map(|e| e.shape).collect::<Vec<_>>();
                assert_eq!(shapes(&x), shapes(&y), "{name}: {f}");
                assert_eq!(x.slots, y.slots, "{name}: {f}");
                assert_eq!(x.failure, y.failure, "{name}: {f}");
            }
        }
    }

    #[test]
    fn integers_parse_like_std() {
        let mut rng = crate::testutil::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        for _ in 0..200_000 {
            let r = next();
            let mut t = String::new();
            if r & 1 != 0 {
                t.push('-');
            }
            for _ in 0..(r >> 8) % 22 {
                let c = next();
                t.push(if c % 50 == 0 {
                    ['/', ':', 'a', '.', ' '][(c >> 8) as usize % 5]
                } else {
                    (b'0' + (c >> 16) as u8 % 10) as char
                });
            }
            let digits = t.strip_prefix('-').unwrap_or(&t);
            let form =
                (1..=19).contains(&digits.len()) && digits.bytes().all(|c| c.is_ascii_digit());
            let want = if form { t.parse::<i64>().ok() } else { None };
            assert_eq!(parse_i64(t.as_bytes()), want, "{t:?}");
        }
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
    }

    #[test]
    fn locations_past_the_inline_nodes() {
        let mut locs = Locs::new();
        let data = locs.push(0, Seg::Key("data"));
        let mut last = data;
        for i in 0..6 {
            last = locs.push(data, Seg::Index(i));
        }
        let deeper = locs.push(last, Seg::MapKey("BTC"));
        assert_eq!(locs.render(last), "data[5]");
        assert_eq!(locs.render(deeper), "data[5].BTC");
        assert_eq!(locs.render(3), "data[1]");
        assert_eq!(locs.render(0), "");
    }

    #[test]
    fn symbol_parts() {
        assert_eq!(symbol_part("BTC/USDT:USDT-210625", "settle"), Some("USDT"));
        assert_eq!(symbol_part("BTC/USDT", "settle"), None);
        assert_eq!(symbol_part("BTC/USDT", "quote"), Some("USDT"));
        assert_eq!(symbol_part("BTCUSDT", "base"), None);
    }

    /// `^.k` reads the record's parent: the root for a top-level `x[]` row (its gathered root
    /// member), the outer row for `x[].y[]`, and nothing while routing (no parent).
    #[test]
    fn parent_paths() {
        let reply = |slot| {
            format!(
                r#"{{"name": "reply", "slot": {slot}, "type": "str", "values": null, "case": null,
                  "required": false, "default": null, "raw_slot": null,
                  "source": {{"op": "path", "path": {{"base": "parent", "keys": ["k"]}},
                             "when": null, "absent_if": null, "map": null, "ci": false,
                             "join": null, "sign_by": null, "negate": false}}}}"#
            )
        };
        let emit = |records: &str| {
            format!(
                r#"{{"kind": "heartbeat", "records": {records}, "when": null, "fields": [{}]}}"#,
                reply(2)
            )
        };
        let plan = format!(
            r#"{{"format": 1,
              "kinds": {{"heartbeat": {{"class": "Heartbeat", "fields": ["exchange", "ts", "reply"]}}}},
              "exchanges": {{"zz": {{"symbols": [], "topic_keys": [{{"base": "rec", "keys": ["op"]}}],
                "envelope_ts": [],
                "routes": [
                  {{"channel": "parent", "emits": [],
                   "when": {{"op": "exists", "path": {{"base": "parent", "keys": ["k"]}}, "value": true}}}},
                  {{"channel": "rows", "emits": [{}, {}],
                   "when": {{"op": "eq", "path": {{"base": "rec", "keys": ["op"]}}, "values": ["rows"],
                            "ci": false, "before": null}}}}]}}}}}}"#,
            emit(r#"[{"key": "x", "iter": "array"}]"#),
            emit(r#"[{"key": "x", "iter": "array"}, {"key": "y", "iter": "array"}]"#),
        );
        let plan = Arc::new(Plan::from_json(&plan).expect("plan"));
        let e = Engine::new(plan, "zz", Numbers::Float, Limits::default()).expect("zz");
        let out = decode(
            &e,
            r#"{"op":"rows","k":"root","x":[{"k":"x0","y":[{"k":"y0"}]},{"y":[{"k":"y1"}]}]}"#,
        );
        assert!(out.failure.is_none(), "{:?}", out.failure);
        let replies: Vec<_> = (0..out.events.len())
            .map(|i| field(&e, (&out, i), "reply").clone())
            .collect();
        let s = |t: &'static str| Slot::Str(Cow::Borrowed(t));
        assert_eq!(replies, [s("root"), s("root"), s("x0"), Slot::None]);
        let out = decode(&e, r#"{"op":"other","k":"root"}"#);
        assert!(matches!(out.events[0].shape, Shape::Unrecognized));
    }

    #[test]
    fn cut_before_is_str_find() {
        for (t, sep) in [
            ("positions_cross.btc-usdt", "."),
            ("a.b.c", "."),
            ("plain", "."),
            ("", "."),
            ("é.x", "."),
            ("xé", "é"),
            ("a::b::c", "::"),
            ("a:b", "::"),
        ] {
            let want = t.find(sep).map_or(t, |i| &t[..i]);
            assert_eq!(cut_before(t, sep), want, "{t:?} {sep:?}");
        }
    }
}
