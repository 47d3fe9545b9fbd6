//! The generic decoder: frame bytes -> events as slot values, by interpreting the plan.
//!
//! This is `pushwire._pydecode.PyDecoder` written out in Rust, function for function (the names
//! in comments are the reference's), and holds no PyO3 type: the Python layer turns the
//! [`Slot`]s into objects in one place (`build.rs`). Nothing here knows an exchange.
//!
//! Every failure is found here, before a Python object exists: decimal texts are checked against
//! what `decimal.Decimal` accepts and `sub` is computed exactly in Rust, so building the events
//! cannot fail where the reference decoder would not.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{field_error, Failure, FailureKind, FieldError, FieldErrorKind};
use crate::inflate::{self, InflateError};
use crate::json::{self, JsonError, ParseLimits, Value};
use crate::plan::{
    Base, Case, CmpOp, Cond, Emit, Exchange, Field, FieldType, Iter, JsonType, KindId, Op, Part,
    Path, Plan, Route, Source,
};
use crate::text;

/// Timestamps below this are seconds (1e11 ms is March 1973).
const SECONDS_BELOW: i64 = 100_000_000_000;
/// The symbol cache stops growing here (the reference decoder's bound).
pub const SYMBOL_CACHE_MAX: usize = 65_536;

static NULL: Value<'static> = Value::Null;

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
    /// A unified symbol of the symbol cache (id, text).
    Symbol(u32, Arc<str>),
    /// The raw symbol of symbol-cache entry `id` (its text).
    RawSymbol(u32, Arc<str>),
    /// A unified symbol the full cache did not keep.
    Shared(Arc<str>),
}

impl Slot<'_> {
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
            Slot::Symbol(i, s) => Slot::Symbol(i, s),
            Slot::RawSymbol(i, s) => Slot::RawSymbol(i, s),
            Slot::Shared(s) => Slot::Shared(s),
        }
    }
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

#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub shape: Shape,
    pub slots: Vec<Slot<'a>>,
}

impl Event<'_> {
    pub fn into_static(self) -> Event<'static> {
        Event {
            shape: self.shape,
            slots: self.slots.into_iter().map(Slot::into_static).collect(),
        }
    }
}

/// The events of one frame, or the failure that stopped it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameOut<'a> {
    pub events: Vec<Event<'a>>,
    pub failure: Option<Failure>,
}

impl<'a> FrameOut<'a> {
    pub fn fail(failure: Failure) -> FrameOut<'a> {
        FrameOut {
            events: Vec::new(),
            failure: Some(failure),
        }
    }

    pub fn into_static(self) -> FrameOut<'static> {
        FrameOut {
            events: self.events.into_iter().map(Event::into_static).collect(),
            failure: self.failure,
        }
    }
}

/// Mutable decoder state: the symbol cache and the last raw symbol (`PyDecoder._raw_symbol`).
#[derive(Debug, Default)]
pub struct State {
    /// Raw symbol -> id; `entries[id]` is (raw, unified). Append-only, so ids are stable.
    symbols: HashMap<Arc<str>, u32>,
    entries: Vec<(Arc<str>, Arc<str>)>,
    last_raw_symbol: Option<String>,
    /// The JSON parser's buffers, reused from frame to frame.
    scratch: json::Scratch,
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
            Err(e) => Err(Failure::frame(match e {
                InflateError::Bad(m) => format!("bad gzip data: {m}"),
                InflateError::TooLarge => {
                    format!("gzip frame inflates past the {limit}-byte limit")
                }
                InflateError::Truncated => "truncated gzip data".to_owned(),
                InflateError::Trailing => "trailing bytes after the gzip member".to_owned(),
            })),
        }
    }

    /// Decode one frame as received (bytes of text or gzip).
    pub fn decode<'a>(
        &'a self,
        st: &mut State,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> FrameOut<'a> {
        match self.prepare(input, scratch) {
            Ok(buf) => self.decode_text(st, buf),
            Err(f) => FrameOut::fail(f),
        }
    }

    /// Decode a frame already inflated.
    pub fn decode_text<'a>(&'a self, st: &mut State, buf: &'a [u8]) -> FrameOut<'a> {
        let ex = self.exchange();
        if buf.len() <= ex.max_text_frame.saturating_add(8) {
            let stripped = text::strip_ascii_ws(buf);
            if let Some(i) = ex.text_frames.iter().position(|t| t.text == stripped) {
                let reply = ex.text_frames[i].reply;
                let slots = vec![Slot::Exchange, Slot::Now, Slot::Const(reply)];
                return FrameOut {
                    events: vec![Event {
                        shape: Shape::TextFrame(i),
                        slots,
                    }],
                    failure: None,
                };
            }
        }
        let raw = match std::str::from_utf8(buf) {
            Ok(t) => t,
            Err(e) => return FrameOut::fail(self.json_failure(json::utf8_error(buf, &e))),
        };
        let root = match json::parse_with(
            raw,
            self.parse_limits(),
            Some(&self.plan.keys),
            &mut st.scratch,
        ) {
            Ok(v) => v,
            Err(e) => return FrameOut::fail(self.json_failure(e)),
        };
        if !root.is_object() {
            return FrameOut::fail(Failure::frame(format!(
                "expected a JSON object, got {}",
                describe(&value_view(&root))
            )));
        }
        let mut run = Run {
            eng: self,
            ex,
            st,
            last_raw: None,
        };
        let out = run.frame(&root, raw);
        if let Some(raw) = run.last_raw.take() {
            run.st.last_raw_symbol = Some(match raw {
                RawSymbol::Cached(id) => run
                    .st
                    .entries
                    .get(id as usize)
                    .map(|e| e.0.to_string())
                    .unwrap_or_default(),
                RawSymbol::Text(t) => t.into_owned(),
            });
        }
        out
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

// -- values ------------------------------------------------------------------------------------

/// A value during evaluation: what the reference decoder holds as a Python object.
#[derive(Debug, Clone)]
enum Cur<'d, 'a> {
    /// A JSON value of the frame or a plan constant.
    V(&'d Value<'a>),
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

/// `_raw_symbol`: a symbol-cache entry, or a text the full cache did not keep.
#[derive(Debug, Clone)]
enum RawSymbol<'a> {
    Cached(u32),
    Text(Cow<'a, str>),
}

const ABSENT: Cur<'static, 'static> = Cur::Absent(None);

/// A converted decimal: a float, or the text of a Decimal to build.
#[derive(Debug, Clone)]
enum Num<'a> {
    F(f64),
    D(Cow<'a, str>),
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
    List(&'x [Value<'x>]),
    Dict,
    Typed,
}

impl<'a> Cur<'_, 'a> {
    fn view(&self) -> View<'_> {
        match self {
            Cur::V(v) => value_view(v),
            Cur::Str(s) => View::Str(s),
            Cur::JFloat(s) => View::JFloat(s),
            Cur::Bool(b) => View::Bool(*b),
            Cur::Typed(_) => View::Typed,
            Cur::Absent(_) => View::Null,
        }
    }

    /// The text of a str, `_JsonFloat` or int (`str(n)`), with the frame's lifetime.
    fn text(&self) -> Option<Cow<'a, str>> {
        match self {
            Cur::V(Value::Str(s) | Value::Float(s)) => Some(s.clone()),
            Cur::V(Value::Int(t)) if t.as_ref() == "-0" => Some(Cow::Borrowed("0")),
            Cur::V(Value::Int(t)) => Some(t.clone()),
            Cur::Str(s) | Cur::JFloat(s) => Some(s.clone()),
            _ => None,
        }
    }
}

fn value_view<'x>(v: &'x Value<'_>) -> View<'x> {
    match v {
        Value::Null => View::Null,
        Value::Bool(b) => View::Bool(*b),
        Value::Int(t) => View::Int(t),
        Value::Float(t) => View::JFloat(t),
        Value::PyFloat(_) => View::PyFloat,
        Value::Str(s) => View::Str(s),
        Value::Array(items) => View::List(items),
        Value::Object(_) => View::Dict,
    }
}

/// `canonical(v)`: a string as is, an int in decimal, a float literal's text, true/false.
#[inline]
fn canonical<'x>(view: View<'x>) -> Option<&'x str> {
    match view {
        View::Str(s) | View::JFloat(s) => Some(s),
        View::Bool(true) => Some("true"),
        View::Bool(false) => Some("false"),
        View::Int(t) => Some(text::int_literal_canonical(t)),
        _ => None,
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
enum Got<'d, 'a> {
    Missing,
    Val(&'d Value<'a>),
    Key(&'d Cow<'a, str>),
}

impl<'d> Got<'d, '_> {
    fn view(&self) -> Option<View<'d>> {
        match *self {
            Got::Missing => None,
            Got::Val(v) => Some(value_view(v)),
            Got::Key(k) => Some(View::Str(k)),
        }
    }

    fn canonical(&self) -> Option<&'d str> {
        canonical(self.view()?)
    }

    /// Present and not null.
    fn present(&self) -> bool {
        match self {
            Got::Missing => false,
            Got::Val(v) => !matches!(v, Value::Null),
            Got::Key(_) => true,
        }
    }
}

/// Where a record sits: `(rec, root, parent, key)` of the reference decoder.
#[derive(Clone, Copy)]
struct Ctx<'d, 'a> {
    rec: &'d Value<'a>,
    root: &'d Value<'a>,
    parent: Option<&'d Value<'a>>,
    key: Option<&'d Cow<'a, str>>,
}

/// `_get(path, rec, root, parent, key)`.
#[inline]
fn get<'d, 'a>(path: &Path, ctx: Ctx<'d, 'a>) -> Got<'d, 'a> {
    let mut cur: &'d Value<'a> = match path.base {
        Base::Rec => ctx.rec,
        Base::Root => ctx.root,
        Base::Parent => match ctx.parent {
            Some(p) => p,
            None if path.keys.is_empty() => return Got::Val(&NULL),
            None => return Got::Missing,
        },
        Base::Key => return ctx.key.map_or(Got::Missing, Got::Key),
    };
    for k in &path.keys {
        cur = match cur {
            Value::Object(_) => match cur.get_id(k.id, &k.key) {
                Some(v) => v,
                None => return Got::Missing,
            },
            Value::Array(items) => match k.index.and_then(|i| items.get(i)) {
                Some(v) => v,
                None => return Got::Missing,
            },
            _ => return Got::Missing,
        };
    }
    Got::Val(cur)
}

/// `_is_type(v, t)`.
fn is_type(got: Got<'_, '_>, ty: JsonType) -> bool {
    let Some(view) = got.view() else { return false };
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
fn int_out_of_range(canonical: &str) -> FieldError {
    field_error(format!(
        "integer {} is out of the 64-bit range",
        text::prefix_chars(canonical, 40)
    ))
}

/// `_int(v)`: None for "" (absent).
fn int_of(view: View<'_>, max_digits: usize) -> Result<Option<i64>, FieldError> {
    let (s, group) = match view {
        View::Int(t) => {
            return match t.parse::<i64>() {
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(int_out_of_range(text::int_literal_canonical(t))),
            };
        }
        View::Str("") => return Ok(None),
        View::Str(s) | View::JFloat(s) => match text::int_text(s) {
            Some(g) => (s, g),
            None => return Err(expected("an integer", &view)),
        },
        _ => return Err(expected("an integer", &view)),
    };
    // Bounded before int(): over 19 digits once the sign and ASCII zeros are stripped.
    let significant = group.trim_start_matches(['+', '-']).trim_start_matches('0');
    if text::char_len_over(significant, 19) {
        return Err(field_error(format!(
            "integer {}... is out of the 64-bit range",
            text::prefix_chars(s, 40)
        )));
    }
    if group.is_ascii() {
        if max_digits > 0 && group.trim_start_matches(['+', '-']).len() > max_digits {
            return Err(digit_limit(
                max_digits,
                group.trim_start_matches(['+', '-']).len(),
            ));
        }
        return match group.parse::<i64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(int_out_of_range(&text::int_parts(group).canonical())),
        };
    }
    let parts = text::int_parts(group);
    if max_digits > 0 && parts.written > max_digits {
        return Err(digit_limit(max_digits, parts.written));
    }
    match parts.to_i64() {
        Some(n) => Ok(Some(n)),
        None => Err(int_out_of_range(&parts.canonical())),
    }
}

/// CPython's int() refuses more digits than `sys.get_int_max_str_digits()` with a ValueError,
/// which the reference decoder lets through.
#[cold]
#[inline(never)]
fn digit_limit(max_digits: usize, digits: usize) -> FieldError {
    FieldError::from(Failure::new(FailureKind::PyValue(format!(
        "Exceeds the limit ({max_digits} digits) for integer string conversion: value has {digits} \
         digits; use sys.set_int_max_str_digits() to increase the limit"
    ))))
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
struct Rec<'d, 'a> {
    rec: &'d Value<'a>,
    parent: Option<&'d Value<'a>>,
    key: Option<&'d Cow<'a, str>>,
    loc: u32,
}

#[derive(Clone, Copy)]
enum Seg<'d> {
    Key(&'d str),
    Index(usize),
    MapKey(&'d str),
}

/// Locations ("data.positions[3]") as a tree of segments, rendered only for messages.
struct Locs<'d> {
    nodes: Vec<(u32, Seg<'d>)>,
}

impl<'d> Locs<'d> {
    /// Node 0 is the root (implicit: no allocation until a record step is taken).
    fn new() -> Self {
        Locs { nodes: Vec::new() }
    }

    fn push(&mut self, parent: u32, seg: Seg<'d>) -> u32 {
        self.nodes.push((parent, seg));
        u32::try_from(self.nodes.len()).unwrap_or(0)
    }

    #[cold]
    #[inline(never)]
    fn render(&self, mut at: u32) -> String {
        let mut segs = Vec::new();
        while let Some(&(parent, seg)) = at.checked_sub(1).and_then(|i| self.nodes.get(i as usize))
        {
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

struct Run<'a, 's> {
    eng: &'a Engine,
    ex: &'a Exchange,
    st: &'s mut State,
    /// `_raw_symbol` as set by this frame.
    last_raw: Option<RawSymbol<'a>>,
}

impl<'a> Run<'a, '_> {
    fn frame<'d>(&mut self, root: &'d Value<'a>, raw: &'a str) -> FrameOut<'a>
    where
        'a: 'd,
    {
        let ctx = Ctx {
            rec: root,
            root,
            parent: None,
            key: None,
        };
        for route in &self.ex.routes {
            match self.cond(&route.when, ctx) {
                Ok(false) => continue,
                Ok(true) => {
                    let mut events = Vec::new();
                    return match self.emit_route(route, root, &mut events) {
                        Ok(()) => FrameOut {
                            events,
                            failure: None,
                        },
                        Err(failure) => FrameOut::fail(failure),
                    };
                }
                Err(f) => return FrameOut::fail(f),
            }
        }
        self.unrecognized(root, raw)
    }

    fn unrecognized<'d>(&mut self, root: &'d Value<'a>, raw: &'a str) -> FrameOut<'a>
    where
        'a: 'd,
    {
        let ctx = Ctx {
            rec: root,
            root,
            parent: None,
            key: None,
        };
        let mut topic = Slot::None;
        for p in &self.ex.topic_keys {
            let got = get(p, ctx);
            if let Some(c) = got.canonical() {
                topic = Slot::Str(match got {
                    Got::Val(Value::Str(s) | Value::Float(s)) => s.clone(),
                    Got::Key(k) => k.clone(),
                    _ => Cow::Owned(c.to_owned()),
                });
                break;
            }
        }
        match self.envelope_time(root) {
            Ok(ts) => FrameOut {
                events: vec![Event {
                    shape: Shape::Unrecognized,
                    slots: vec![Slot::Exchange, ts, topic, Slot::Str(Cow::Borrowed(raw))],
                }],
                failure: None,
            },
            Err(f) => FrameOut::fail(f),
        }
    }

    /// `_envelope_time`: the first envelope time that is an integer, else now.
    fn envelope_time<'d>(&self, root: &'d Value<'a>) -> Result<Slot<'a>, Failure>
    where
        'a: 'd,
    {
        let ctx = Ctx {
            rec: root,
            root,
            parent: None,
            key: None,
        };
        for p in &self.ex.envelope_ts {
            let got = get(p, ctx);
            if !got.present() {
                continue;
            }
            let Some(view) = got.view() else { continue };
            match int_of(view, self.eng.limits.int_max_str_digits) {
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
    fn emit_route<'d>(
        &mut self,
        route: &'a Route,
        root: &'d Value<'a>,
        out: &mut Vec<Event<'a>>,
    ) -> Result<(), Failure>
    where
        'a: 'd,
    {
        let mut env_ts: Option<Slot<'a>> = None;
        let mut locs = Locs::new();
        for emit in &route.emits {
            let recs = self.records(route, emit, root, &mut locs)?;
            for r in recs {
                let ctx = Ctx {
                    rec: r.rec,
                    root,
                    parent: r.parent,
                    key: r.key,
                };
                if let Some(w) = &emit.when {
                    if !self.cond(w, ctx)? {
                        continue;
                    }
                }
                let mut slots: Vec<Slot<'a>> = Vec::with_capacity(emit.nslots);
                slots.push(Slot::Exchange);
                slots.resize_with(emit.nslots, || Slot::None);
                for f in &emit.fields {
                    self.field(route, emit, f, &mut slots, ctx, || locs.render(r.loc))?;
                }
                if matches!(slots[1], Slot::None) {
                    if env_ts.is_none() {
                        env_ts = Some(self.envelope_time(root)?);
                    }
                    if let Some(ts) = &env_ts {
                        slots[1] = ts.clone();
                    }
                }
                out.push(Event {
                    shape: Shape::Kind(emit.kind),
                    slots,
                });
            }
        }
        Ok(())
    }

    /// `_records`: the records of an emit, with their parent, map key and location.
    fn records<'d>(
        &self,
        route: &Route,
        emit: &'a Emit,
        root: &'d Value<'a>,
        locs: &mut Locs<'d>,
    ) -> Result<Vec<Rec<'d, 'a>>, Failure>
    where
        'a: 'd,
    {
        struct St<'d, 'a> {
            obj: &'d Value<'a>,
            anchor: &'d Value<'a>,
            aparent: Option<&'d Value<'a>>,
            mkey: Option<&'d Cow<'a, str>>,
            loc: u32,
            obj_is_anchor: bool,
        }
        let not_object = |locs: &Locs<'_>, at: u32, got: String| {
            let w = locs.render(at);
            Failure::at(
                &route.channel,
                w.clone(),
                format!("{w}: expected an object, got {got}"),
            )
        };
        let mut states = vec![St {
            obj: root,
            anchor: root,
            aparent: None,
            mkey: None,
            loc: 0,
            obj_is_anchor: true,
        }];
        for step in &emit.records {
            let mut next = Vec::with_capacity(states.len());
            for s in &states {
                let v = s.obj.get_id(step.id, &step.key);
                let here = locs.push(s.loc, Seg::Key(&step.key));
                match step.iter {
                    Iter::None => match v {
                        Some(o @ Value::Object(_)) => next.push(St {
                            obj: o,
                            anchor: s.anchor,
                            aparent: s.aparent,
                            mkey: s.mkey,
                            loc: here,
                            obj_is_anchor: false,
                        }),
                        _ => {
                            let got = v
                                .map_or_else(|| "nothing".to_owned(), |x| describe(&value_view(x)));
                            return Err(not_object(locs, here, got));
                        }
                    },
                    Iter::Array => match v {
                        None | Some(Value::Null) => continue,
                        Some(Value::Array(items)) => {
                            for (i, item) in items.iter().enumerate() {
                                let at = locs.push(here, Seg::Index(i));
                                if !item.is_object() {
                                    return Err(not_object(locs, at, describe(&value_view(item))));
                                }
                                next.push(St {
                                    obj: item,
                                    anchor: item,
                                    aparent: Some(s.anchor),
                                    mkey: s.mkey,
                                    loc: at,
                                    obj_is_anchor: true,
                                });
                            }
                        }
                        Some(other) => {
                            let w = locs.render(here);
                            return Err(Failure::at(
                                &route.channel,
                                w.clone(),
                                format!(
                                    "{w}: expected an array, got {}",
                                    describe(&value_view(other))
                                ),
                            ));
                        }
                    },
                    Iter::Map => match v {
                        None | Some(Value::Null) => continue,
                        Some(Value::Object(members)) => {
                            for (mk, item) in json::dedup_members(members) {
                                let at = locs.push(here, Seg::MapKey(mk));
                                if !item.is_object() {
                                    return Err(not_object(locs, at, describe(&value_view(item))));
                                }
                                next.push(St {
                                    obj: item,
                                    anchor: item,
                                    aparent: Some(s.anchor),
                                    mkey: Some(mk),
                                    loc: at,
                                    obj_is_anchor: true,
                                });
                            }
                        }
                        Some(other) => {
                            return Err(not_object(locs, here, describe(&value_view(other))))
                        }
                    },
                }
            }
            states = next;
        }
        Ok(states
            .into_iter()
            .map(|s| Rec {
                rec: s.obj,
                parent: if s.obj_is_anchor {
                    s.aparent
                } else {
                    Some(s.anchor)
                },
                key: s.mkey,
                loc: s.loc,
            })
            .collect())
    }

    /// `_field`: evaluate, convert, default, and store one field (and its raw symbol).
    fn field<'d>(
        &mut self,
        route: &Route,
        emit: &Emit,
        f: &'a Field,
        slots: &mut [Slot<'a>],
        ctx: Ctx<'d, 'a>,
        loc: impl FnOnce() -> String,
    ) -> Result<(), Failure>
    where
        'a: 'd,
    {
        if let Err(e) = self.field_value(f, slots, ctx) {
            return Err(self.field_failure(route, emit, f, e, loc));
        }
        let none = matches!(slots.get(f.slot), Some(Slot::None) | None);
        if let (Some(raw_slot), false) = (f.raw_slot, none) {
            let raw = match &self.last_raw {
                Some(RawSymbol::Cached(id)) => match self.st.entries.get(*id as usize) {
                    Some((raw, _)) => Slot::RawSymbol(*id, raw.clone()),
                    None => Slot::None,
                },
                Some(RawSymbol::Text(t)) => Slot::Str(t.clone()),
                None => match &self.st.last_raw_symbol {
                    Some(r) => Slot::Str(Cow::Owned(r.clone())),
                    None => return Err(no_raw_symbol()),
                },
            };
            if let Some(slot) = slots.get_mut(raw_slot) {
                *slot = raw;
            }
        }
        Ok(())
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

    /// Evaluate a field into `slots[f.slot]`.
    fn field_value<'d>(
        &mut self,
        f: &'a Field,
        slots: &mut [Slot<'a>],
        ctx: Ctx<'d, 'a>,
    ) -> Result<(), FieldError>
    where
        'a: 'd,
    {
        let v = match &f.source {
            None => ABSENT,
            Some(s) => self.source(s, ctx, slots)?,
        };
        let Some(out) = slots.get_mut(f.slot) else {
            return Ok(());
        };
        let unmapped = match v {
            Cur::Absent(u) => u,
            v => match self.convert(v, f, out)? {
                None => return Ok(()),
                Some(u) => u,
            },
        };
        if f.required {
            return Err(missing(unmapped));
        }
        *out = f.default.map_or(Slot::None, Slot::Const);
        Ok(())
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
            Slot::Symbol(_, t) | Slot::RawSymbol(_, t) | Slot::Shared(t) => Some(t),
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
    fn source<'d>(
        &mut self,
        s: &'a Source,
        ctx: Ctx<'d, 'a>,
        slots: &[Slot<'a>],
    ) -> Result<Cur<'d, 'a>, FieldError>
    where
        'a: 'd,
    {
        if let Some(w) = &s.when {
            if !self.cond(w, ctx)? {
                return Ok(ABSENT);
            }
        }
        let (v, origin) = match &s.op {
            Op::Path(p) => match get(p, ctx) {
                Got::Missing | Got::Val(Value::Null) => return Ok(ABSENT),
                Got::Val(v) => (Cur::V(v), Origin::Path(p)),
                Got::Key(k) => (Cur::Str(k.clone()), Origin::Path(p)),
            },
            Op::Const(c) => match c {
                Value::Null => return Ok(ABSENT),
                c => (Cur::V(c), Origin::Named("const")),
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
                            if !json_scalar(get(p, ctx), &mut out) {
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
    fn modify<'d>(
        &mut self,
        s: &'a Source,
        mut v: Cur<'d, 'a>,
        origin: Origin<'_>,
        ctx: Ctx<'d, 'a>,
    ) -> Result<Cur<'d, 'a>, FieldError>
    where
        'a: 'd,
    {
        if let Some(sep) = &s.join {
            let View::List(items) = v.view() else {
                return Err(field_error(format!(
                    "{}: expected an array, got {}",
                    origin.name(),
                    describe(&v.view())
                )));
            };
            let mut joined = String::new();
            for (i, x) in items.iter().enumerate() {
                let Some(t) = canonical(value_view(x)) else {
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
            v = Cur::Str(Cow::Owned(joined));
        }
        if let Some(set) = &s.absent_if {
            if set.contains(canonical(v.view())) {
                return Ok(ABSENT);
            }
        }
        if s.map.is_some() {
            let view = v.view();
            let Some(c) = canonical(view) else {
                return Ok(Cur::Absent(Some(describe(&view).into())));
            };
            let mapped = if s.ci {
                text::with_lower(c, |low| s.lookup(low))
            } else {
                s.lookup(c)
            };
            match mapped {
                None => {
                    let shown = if s.ci {
                        text::lower(c).into_owned()
                    } else {
                        c.to_owned()
                    };
                    return Ok(Cur::Absent(Some(shown.into())));
                }
                Some(Value::Null) => return Ok(ABSENT),
                Some(m) => v = Cur::V(m),
            }
        }
        if s.sign_by.is_some() || s.negate {
            let Some(mut t) = self.number_text(&v)? else {
                return Ok(ABSENT);
            };
            if let Some(sb) = &s.sign_by {
                let c = get(&sb.path, ctx).canonical();
                let (neg, pos) = match c {
                    Some(c) if sb.ci => text::with_lower(c, |l| {
                        (sb.negative.contains(Some(l)), sb.positive.contains(Some(l)))
                    }),
                    c => (sb.negative.contains(c), sb.positive.contains(c)),
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
    fn number_text(&self, v: &Cur<'_, 'a>) -> Result<Option<Cow<'a, str>>, FieldError> {
        let view = v.view();
        match view {
            View::Typed => Err(field_error("a computed value cannot be re-signed")),
            View::Int(_) => Ok(v.text()),
            View::Str("") => Ok(None),
            View::Str(s) | View::JFloat(s) => {
                if !text::is_decimal_text(s) {
                    return Err(expected("a decimal number", &view));
                }
                Ok(v.text())
            }
            _ => Err(expected("a decimal number", &view)),
        }
    }

    /// `_exact_sub` then `_from_decimal`: the exact difference of two decimal texts, as a
    /// Decimal text or a finite float.
    fn exact_sub(&self, a: &str, b: &str) -> Result<Num<'a>, FieldError> {
        for t in [a, b] {
            if !text::decimal_constructible(t) {
                return Err(decimal_ctor(t));
            }
        }
        let d = match text::exact_sub(a, b) {
            Ok(d) => d,
            Err(e) => return Err(sub_error(a, b, e)),
        };
        match self.eng.numbers {
            Numbers::Decimal => Ok(Num::D(Cow::Owned(d))),
            Numbers::Float => finite_float(&d).map(Num::F),
        }
    }

    /// `_decimal`: a float (finite) or a Decimal text; None for "".
    fn decimal(&self, v: &Cur<'_, 'a>) -> Result<Option<Num<'a>>, FieldError> {
        if let Cur::Typed(n) = v {
            return Ok(Some((**n).clone()));
        }
        let Some(t) = self.number_text(v)? else {
            return Ok(None);
        };
        match self.eng.numbers {
            Numbers::Decimal => {
                if !text::decimal_constructible(&t) {
                    return Err(decimal_ctor(&t));
                }
                Ok(Some(Num::D(t)))
            }
            Numbers::Float => finite_float(&t).map(|x| Some(Num::F(x))),
        }
    }

    /// `_convert` into `out`: Ok(None) when written, Ok(Some(unmapped)) for absent.
    fn convert(
        &mut self,
        v: Cur<'_, 'a>,
        f: &'a Field,
        out: &mut Slot<'a>,
    ) -> Result<Option<Option<Box<str>>>, FieldError> {
        if let Cur::Typed(n) = v {
            *out = num_slot(*n);
            return Ok(None);
        }
        let view = v.view();
        match f.ty {
            FieldType::Decimal => match self.decimal(&v)? {
                Some(Num::F(x)) => *out = Slot::Float(x),
                Some(Num::D(t)) => *out = Slot::Decimal(t),
                None => return Ok(Some(None)),
            },
            FieldType::Int | FieldType::Time => {
                match int_of(view, self.eng.limits.int_max_str_digits)? {
                    Some(n) if f.ty == FieldType::Time => *out = Slot::Int(seconds_to_ms(n)),
                    Some(n) => *out = Slot::Int(n),
                    None => return Ok(Some(None)),
                }
            }
            FieldType::Bool => match bool_of(view)? {
                Some(b) => *out = Slot::Bool(b),
                None => return Ok(Some(None)),
            },
            FieldType::Enum | FieldType::Symbol | FieldType::Text => {
                if !matches!(view, View::Int(_) | View::Str(_) | View::JFloat(_)) {
                    return Err(expected("a string", &view));
                }
                let t: Cow<'a, str> = v.text().unwrap_or_default();
                match f.ty {
                    FieldType::Enum => {
                        if let Some((_, id)) = f.values.iter().find(|(x, _)| *x == t) {
                            *out = Slot::Interned(*id);
                            return Ok(None);
                        }
                        let low = text::with_lower(&t, |low| {
                            f.values.iter().find(|(x, _)| x == low).map(|(_, id)| *id)
                        });
                        match low {
                            Some(id) => *out = Slot::Interned(id),
                            None => return Ok(Some(Some(t.as_ref().into()))),
                        }
                    }
                    FieldType::Symbol => *out = self.symbol(t),
                    _ => {
                        *out = match f.case {
                            Case::Keep => Slot::Str(t),
                            Case::Lower => Slot::Str(cow_map(t, text::lower)),
                            Case::Upper => Slot::Str(cow_map(t, text::upper)),
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// `_symbol` (and `_raw_symbol`): unify by the first matching rule (upper-cased groups),
    /// through the symbol cache.
    fn symbol(&mut self, raw: Cow<'a, str>) -> Slot<'a> {
        if let Some(&id) = self.st.symbols.get(raw.as_ref()) {
            if let Some((_, unified)) = self.st.entries.get(id as usize) {
                let unified = unified.clone();
                self.last_raw = Some(RawSymbol::Cached(id));
                return Slot::Symbol(id, unified);
            }
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
            self.st.symbols.insert(key, id);
            self.last_raw = Some(RawSymbol::Cached(id));
            return Slot::Symbol(id, unified);
        }
        self.last_raw = Some(RawSymbol::Text(raw));
        Slot::Shared(unified)
    }

    /// `_cond`.
    fn cond<'d>(&self, c: &Cond, ctx: Ctx<'d, 'a>) -> Result<bool, Failure>
    where
        'a: 'd,
    {
        Ok(match c {
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
            Cond::Exists { path, value } => get(path, ctx).present() == *value,
            Cond::Is { path, ty } => is_type(get(path, ctx), *ty),
            Cond::Cmp {
                op,
                path,
                values,
                ci,
                before,
            } => {
                let Some(mut t) = get(path, ctx).canonical() else {
                    return Ok(*op == CmpOp::Ne);
                };
                if let Some(sep) = before {
                    if sep.is_empty() {
                        return Err(Failure::new(FailureKind::PyValue(
                            "empty separator".to_owned(),
                        )));
                    }
                    if let Some(i) = t.find(sep.as_str()) {
                        t = &t[..i];
                    }
                }
                let test = |t: &str| match op {
                    CmpOp::Eq => values.iter().any(|v| v == t),
                    CmpOp::Ne => !values.iter().any(|v| v == t),
                    CmpOp::Prefix => values.iter().any(|v| t.starts_with(v.as_str())),
                };
                if *ci {
                    text::with_lower(t, test)
                } else {
                    test(t)
                }
            }
        })
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
fn no_raw_symbol() -> Failure {
    Failure::new(FailureKind::PyAttribute(
        "'PyDecoder' object has no attribute '_raw_symbol'".to_owned(),
    ))
}

#[cold]
#[inline(never)]
fn decimal_ctor(t: &str) -> FieldError {
    FieldError::from(Failure::new(FailureKind::DecimalCtor(t.to_owned())))
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

/// `_finite_float`.
fn finite_float(t: &str) -> Result<f64, FieldError> {
    let x = text::parse_float(t);
    if x.is_finite() {
        Ok(x)
    } else {
        Err(field_error(format!(
            "number {} is out of range for a float",
            text::prefix_chars(t, 40)
        )))
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
fn json_scalar(got: Got<'_, '_>, out: &mut String) -> bool {
    let Some(view) = got.view() else { return false };
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

    fn field<'x>(e: &Engine, ev: &'x Event<'_>, name: &str) -> &'x Slot<'x> {
        let Shape::Kind(k) = ev.shape else {
            panic!("not a kind event")
        };
        let i = e.plan.kinds[k]
            .fields
            .iter()
            .position(|f| f == name)
            .expect("field");
        &ev.slots[i]
    }

    fn interned(e: &Engine, s: &Slot<'_>) -> String {
        match s {
            Slot::Interned(id) => e.plan.strings[*id as usize].clone(),
            other => panic!("not interned: {other:?}"),
        }
    }

    #[test]
    fn woo_v3_position() {
        let e = engine("woo", Numbers::Float);
        let frame = r#"{"topic":"position","ts":1700000000123,"data":{"positions":[
            {"s":"PERP_BTC_USDT","h":"-0.5","ps":"BOTH","aop":"30000.5","mp":"30100","lv":"10",
             "m":"CROSS","ia":"1","aq":2,"ver":7}]}}"#;
        let out = decode(&e, frame);
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert_eq!(out.events.len(), 1);
        let ev = &out.events[0];
        assert!(
            matches!(field(&e, ev, "symbol"), Slot::Symbol(0, s) if s.as_ref() == "BTC/USDT:USDT")
        );
        assert!(
            matches!(field(&e, ev, "raw_symbol"), Slot::RawSymbol(0, s) if s.as_ref() == "PERP_BTC_USDT")
        );
        assert_eq!(field(&e, ev, "size"), &Slot::Float(-0.5));
        assert_eq!(interned(&e, field(&e, ev, "side")), "short");
        assert_eq!(interned(&e, field(&e, ev, "margin_mode")), "cross");
        assert_eq!(field(&e, ev, "margin"), &Slot::None);
        assert_eq!(field(&e, ev, "adl_rank"), &Slot::Int(2));
        assert_eq!(field(&e, ev, "ts"), &Slot::Int(1700000000123));
    }

    #[test]
    fn decimal_mode_keeps_text_and_sub_is_exact() {
        let e = engine("woo", Numbers::Decimal);
        let frame = r#"{"topic":"balance","ts":1,"data":{"balances":[{"t":"usdt","h":"10.50","f":"0.25","ver":1}]}}"#;
        let out = decode(&e, frame);
        let ev = &out.events[0];
        assert_eq!(field(&e, ev, "asset"), &Slot::Str("USDT".into()));
        assert_eq!(
            field(&e, ev, "wallet_balance"),
            &Slot::Decimal("10.50".into())
        );
        assert_eq!(field(&e, ev, "available"), &Slot::Decimal("1025E-2".into()));
        assert_eq!(field(&e, ev, "ts"), &Slot::Int(1000));
        let f = engine("woo", Numbers::Float);
        let ev = &decode(&f, frame).events[0];
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
        let reply = &out.events[0].slots[2];
        assert!(
            matches!(reply, Slot::Const(id) if e.plan.consts[*id as usize] == Value::Str("pong".into()))
        );
        let out = decode(&e, r#"{"topic":"brand_new","ts":5}"#);
        assert_eq!(out.events[0].shape, Shape::Unrecognized);
        assert_eq!(out.events[0].slots[2], Slot::Str("brand_new".into()));
        assert_eq!(out.events[0].slots[1], Slot::Now);
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
            out.events[0].slots[2],
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
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
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
                    let mut buf = seed.as_bytes().to_vec();
                    for _ in 0..(next() % 4 + 1) {
                        let i = (next() as usize) % (buf.len() + 1);
                        let c = alphabet[(next() as usize) % alphabet.len()];
                        match next() % 3 {
                            0 if i < buf.len() => buf[i] = c,
                            1 if i < buf.len() => {
                                buf.remove(i);
                            }
                            _ => buf.insert(i, c),
                        }
                    }
                    if next() % 8 == 0 {
                        buf = crate::inflate::tests::gzip(&buf);
                        let i = (next() as usize) % buf.len();
                        if next() % 2 == 0 {
                            buf[i] ^= 0x5a;
                        }
                    }
                    let mut scratch = Vec::new();
                    let _ = e.decode(&mut st, &buf, &mut scratch);
                }
            }
        }
    }

    #[test]
    fn symbol_parts() {
        assert_eq!(symbol_part("BTC/USDT:USDT-210625", "settle"), Some("USDT"));
        assert_eq!(symbol_part("BTC/USDT", "settle"), None);
        assert_eq!(symbol_part("BTC/USDT", "quote"), Some("USDT"));
        assert_eq!(symbol_part("BTCUSDT", "base"), None);
    }
}
