//! The checks of pushwire's fuzz targets, shared by the libFuzzer binaries (`fuzz_targets/`) and
//! the regression tests (`tests/regressions.rs`, plain `cargo test`).
//!
//! Every target loads the real decode plan: `PLAN_JSON` of
//! `python/pushwire/_generated/plan.py`, read at compile time and cut out of the Python text at
//! startup (the way `decode.rs`'s own tests do), so a regenerated plan is fuzzed as it is.
//!
//! A check panics when an invariant breaks; libFuzzer reports the panic as a crash and saves the
//! input. Besides "no panic, no hang", the checks assert what the Python layer (`build.rs`)
//! relies on: slot counts, ids in range, decimal texts `decimal.Decimal` accepts, finite floats,
//! the inflate cap and the depth limit.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use _native::decode::{Engine, Event, FrameOut, Limits, Numbers, Shape, Slot, State};
use _native::inflate::{self, InflateError};
use _native::json::{self, JsonError, ParseLimits, Value};
use _native::plan::Plan;
use _native::{tape, text};

pub mod mutate;

/// The generated module, as compiled in.
const PLAN_PY: &str = include_str!("../../../python/pushwire/_generated/plan.py");

/// The exchanges of the plan the targets decode with.
pub const EXCHANGES: [&str; 3] = ["xt", "woo", "htx"];

/// The small limits of the issue: 64 KiB inflated, depth 32 (and a 32 KiB frame).
pub fn small_limits() -> Limits {
    Limits {
        max_frame_bytes: 32 * 1024,
        max_inflated_bytes: 64 * 1024,
        max_depth: 32,
        int_max_str_digits: 4300,
    }
}

/// `PLAN_JSON`: the text between `PLAN_JSON = r"""` and the closing `"""`.
pub fn plan_json() -> &'static str {
    let start = PLAN_PY
        .find("PLAN_JSON = r\"\"\"")
        .expect("PLAN_JSON in plan.py")
        + "PLAN_JSON = r\"\"\"".len();
    let len = PLAN_PY[start..].find("\"\"\"").expect("end of PLAN_JSON");
    &PLAN_PY[start..start + len]
}

pub fn plan() -> &'static Arc<Plan> {
    static PLAN: OnceLock<Arc<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| Arc::new(Plan::from_json(plan_json()).expect("the generated plan loads")))
}

/// One engine per (exchange, limits, numbers), built once.
pub struct Engines {
    /// [exchange][0: small limits + float, 1: default limits + decimal, 2: small + decimal,
    /// 3: default + float]
    pub by_exchange: Vec<[Engine; 4]>,
}

pub fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let plan = plan();
        let make = |ex: &str, limits: Limits, numbers: Numbers| {
            Engine::new(plan.clone(), ex, numbers, limits).expect("exchange in the plan")
        };
        Engines {
            by_exchange: EXCHANGES
                .iter()
                .map(|ex| {
                    [
                        make(ex, small_limits(), Numbers::Float),
                        make(ex, Limits::default(), Numbers::Decimal),
                        make(ex, small_limits(), Numbers::Decimal),
                        make(ex, Limits::default(), Numbers::Float),
                    ]
                })
                .collect(),
        }
    })
}

// -- the decoder ------------------------------------------------------------------------------

/// Decode `input` with `eng` twice (a fresh state, then the warm symbol cache of the first run)
/// and check every event.
pub fn decode_and_check(eng: &Engine, input: &[u8]) {
    let mut st = State::default();
    for _ in 0..2 {
        let mut scratch = Vec::new();
        // The inflate cap, seen from outside.
        match eng.prepare(input, &mut scratch) {
            Ok(buf) => {
                assert!(input.len() <= eng.limits.max_frame_bytes);
                if inflate::is_gzip(input) {
                    assert!(
                        buf.len() <= eng.limits.max_inflated_bytes,
                        "inflated {} bytes past the {}-byte cap",
                        buf.len(),
                        eng.limits.max_inflated_bytes
                    );
                }
            }
            Err(f) => assert!(f.is_decode(), "prepare failed with {f:?}"),
        }
        let mut scratch = Vec::new();
        let out = eng.decode(&mut st, input, &mut scratch);
        check_out(eng, &out);
        check_symbols(&st, &out);
        // The owned copy (what the GIL-free path hands over) is the same frame.
        let owned = out.clone().into_static();
        assert_eq!(owned, out);
    }
}

/// Every symbol id of a frame has its texts, in the state and in the texts shared with the
/// Python builder (which looks them up by id).
fn check_symbols(st: &State, out: &FrameOut<'_>) {
    let texts = st.symbol_texts();
    for slot in &out.slots {
        if let Slot::Symbol(id) | Slot::RawSymbol(id) = slot {
            let shared = texts.get(*id);
            assert_eq!(
                shared.as_ref().map(|(r, u)| (&**r, &**u)),
                st.symbol(*id),
                "symbol {id}"
            );
            assert!(shared.is_some(), "symbol {id} has texts");
        }
    }
}

/// What `build.rs` assumes of a decoded frame.
pub fn check_out(eng: &Engine, out: &FrameOut<'_>) {
    let plan = &eng.plan;
    if out.failure.is_some() {
        assert!(out.events.is_empty(), "a failed frame has no events");
    }
    for ev in &out.events {
        check_event(eng, plan, ev, out.slots_of(ev));
    }
}

fn check_event(eng: &Engine, plan: &Plan, ev: &Event, slots: &[Slot<'_>]) {
    let want = match ev.shape {
        Shape::Kind(k) => {
            let kind = plan.kinds.get(k).expect("kind id in range");
            kind.fields.len()
        }
        Shape::TextFrame(i) => {
            assert!(
                i < eng.exchange().text_frames.len(),
                "text frame id in range"
            );
            3
        }
        Shape::Unrecognized => 4,
    };
    assert_eq!(
        slots.len(),
        want,
        "slots and field names differ: {:?}",
        ev.shape
    );
    assert_eq!(
        slots.first(),
        Some(&Slot::Exchange),
        "slot 0 is the exchange"
    );
    for slot in slots {
        match slot {
            Slot::Interned(id) => assert!((*id as usize) < plan.strings.len(), "string id"),
            Slot::Const(id) => assert!((*id as usize) < plan.consts.len(), "const id"),
            Slot::Float(x) => assert!(x.is_finite(), "a float slot is finite: {x}"),
            Slot::Decimal(t) => {
                assert!(text::is_decimal_text(t), "decimal text {t:?}");
                assert!(
                    text::decimal_constructible(t),
                    "decimal.Decimal({t:?}) would raise"
                );
            }
            Slot::Symbol(id) | Slot::RawSymbol(id) => {
                assert!(
                    (*id as usize) < _native::decode::SYMBOL_CACHE_MAX,
                    "symbol id"
                )
            }
            _ => {}
        }
    }
}

/// Target `decode_frame`: arbitrary bytes through every exchange, small and default limits.
pub fn decode_frame(data: &[u8]) {
    for engines in &engines().by_exchange {
        decode_and_check(&engines[0], data);
        decode_and_check(&engines[1], data);
    }
}

// -- JSON -------------------------------------------------------------------------------------

/// The deepest nesting of a parsed value (duplicates kept): containers count, scalars do not.
pub fn raw_depth(root: &Value<'_>) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d);
                stack.extend(items.iter().map(|x| (x, d + 1)));
            }
            Value::Object(members) => {
                deepest = deepest.max(d);
                stack.extend(members.iter().map(|m| (&m.value, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The deepest bracket nesting of a text, strings skipped (an upper bound of any parse's depth).
pub fn bracket_depth(b: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &c in b {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Every object's lookups by interned id agree with lookups by text.
fn check_key_ids(v: &Value<'_>) {
    let keys = &plan().keys;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(members) => {
                for m in members {
                    assert_eq!(m.id, keys.lookup(&m.key));
                    let by_id = v.get_id(m.id, &m.key);
                    assert!(by_id.is_some());
                    assert_eq!(
                        by_id,
                        v.get(&m.key),
                        "get_id and get differ for {:?}",
                        m.key
                    );
                }
                let dedup = json::dedup_members(members);
                for (k, val) in &dedup {
                    assert_eq!(v.get(k), Some(*val), "dedup_members keeps the last value");
                }
                stack.extend(members.iter().map(|m| &m.value));
            }
            _ => {}
        }
    }
}

/// Target `json`: the parser alone, with three sets of limits, the depth rules, and serde_json
/// as an oracle of what is JSON.
pub fn json_target(data: &[u8]) {
    let keys = Some(&plan().keys);
    let all = [
        ParseLimits {
            max_depth: 32,
            hard_depth: 64,
            int_max_str_digits: 4300,
        },
        ParseLimits::default(),
        ParseLimits {
            max_depth: 4,
            hard_depth: 1000,
            int_max_str_digits: 0,
        },
    ];
    let mut default_result = None;
    for (i, limits) in all.into_iter().enumerate() {
        let r = json::parse_bytes(data, limits, keys);
        match &r {
            Ok(v) => {
                let d = json::dedup_depth(v);
                assert!(d <= limits.max_depth, "depth {d} over {}", limits.max_depth);
                let raw = raw_depth(v);
                assert!(
                    raw <= limits.hard_depth,
                    "raw depth {raw} over the hard cap"
                );
                assert!(d <= raw);
                check_key_ids(v);
            }
            Err(JsonError::TooDeep) => {
                let b = bracket_depth(data);
                assert!(b > limits.max_depth, "TooDeep, but the text nests only {b}");
            }
            Err(_) => {}
        }
        tape_agrees(data, limits, &r);
        if i == 1 {
            default_result = Some(r);
        }
    }
    if let Some(r) = default_result {
        serde_oracle(data, &r);
    }
}

/// The decoder's hot-path parser (`tape`) accepts exactly what the tree parser accepts, with the
/// same error, the same values, and the same member lookups and dict order.
fn tape_agrees(data: &[u8], limits: ParseLimits, tree: &Result<Value<'_>, JsonError>) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = &plan().keys;
    let mut tape = tape::Tape::default();
    let r = tape.parse(text, limits, Some(keys));
    match (tree, &r) {
        (Ok(v), Ok(())) => {
            let doc = tape.doc(text);
            assert_eq!(&doc.to_value(0), v, "tape and tree values differ");
            assert_eq!(
                doc.next(0) as usize,
                doc.nodes.len(),
                "the root spans the tape"
            );
            if let Value::Object(members) = v {
                for m in members {
                    let at = doc
                        .get(0, m.id, &m.key)
                        .expect("tape lookup of a present key");
                    assert_eq!(Some(&doc.to_value(at)), v.get(&m.key), "lookup {:?}", m.key);
                }
                let tree_order: Vec<&str> = json::dedup_members(members)
                    .into_iter()
                    .map(|(k, _)| k.as_ref())
                    .collect();
                let tape_order: Vec<&str> = doc
                    .dedup_members(0)
                    .iter()
                    .map(|&(k, _)| doc.text(k))
                    .collect();
                assert_eq!(tape_order, tree_order, "dict order");
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "tape and tree errors differ"),
        _ => panic!("tree {tree:?} vs tape {r:?}"),
    }
}

const SERDE_NUMBER_TOKEN: &[u8] = b"$serde_json::private::Number";

/// Whether our parse and serde_json's agree (RFC 8259 JSON, exact number text, dict order).
fn serde_oracle(data: &[u8], ours: &Result<Value<'_>, JsonError>) {
    // With `arbitrary_precision`, serde_json reads an object whose key is this token as its own
    // number representation (and refuses valid JSON around it): no oracle for such a document.
    if data
        .windows(SERDE_NUMBER_TOKEN.len())
        .any(|w| w == SERDE_NUMBER_TOKEN)
    {
        return;
    }
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (ours, &theirs) {
        (Ok(v), Ok(s)) => assert_same(v, s),
        (Ok(v), Err(e)) => {
            // serde_json stops at 128 levels; msgspec (and we) at the configured depth.
            if e.to_string().contains("recursion limit") {
                return;
            }
            panic!("we accept what serde_json refuses ({e}): {v:?}");
        }
        (Err(JsonError::TooDeep), _) => {}
        (Err(JsonError::Syntax(m)), Ok(_)) if m == "Integer value out of range" => {}
        (Err(e), Ok(s)) => panic!("we refuse ({e}) what serde_json accepts: {s:?}"),
        (Err(_), Err(_)) => {}
    }
}

/// A float literal as serde_json's `arbitrary_precision` keeps it: the exponent marker in lower
/// case and always signed (`1E5` -> `1e+5`); everything else as written.
fn serde_float_text(t: &str) -> String {
    match t.find(['e', 'E']) {
        Some(i) => {
            let (mantissa, exp) = (&t[..i], &t[i + 1..]);
            let signed = if exp.starts_with(['+', '-']) {
                exp.to_owned()
            } else {
                format!("+{exp}")
            };
            format!("{mantissa}e{signed}")
        }
        None => t.to_owned(),
    }
}

fn assert_same(v: &Value<'_>, s: &serde_json::Value) {
    use serde_json::Value as S;
    match (v, s) {
        (Value::Null, S::Null) => {}
        (Value::Bool(a), S::Bool(b)) => assert_eq!(a, b),
        (Value::Int(t), S::Number(n)) => {
            assert_eq!(t.as_ref(), n.to_string(), "integer text");
            assert!(!t.contains(['.', 'e', 'E']));
        }
        (Value::Float(t), S::Number(n)) => {
            assert_eq!(serde_float_text(t), n.to_string(), "float text");
            assert!(t.contains(['.', 'e', 'E']));
        }
        (Value::Str(a), S::String(b)) => assert_eq!(a.as_ref(), b.as_str()),
        (Value::Array(a), S::Array(b)) => {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert_same(x, y);
            }
        }
        (Value::Object(m), S::Object(o)) => {
            let d = json::dedup_members(m);
            assert_eq!(d.len(), o.len(), "member count after dedup");
            for ((k, x), (sk, y)) in d.iter().zip(o) {
                assert_eq!(k.as_ref(), sk.as_str(), "member order");
                assert_same(x, y);
            }
        }
        (a, b) => panic!("different values: {a:?} vs {b:?}"),
    }
}

// -- gzip -------------------------------------------------------------------------------------

/// A gzip member of `data` at `level` (zlib-rs deflate, like CPython's `gzip.compress`).
pub fn gzip(data: &[u8], level: i32) -> Vec<u8> {
    let mut out = vec![0u8; data.len() + data.len() / 8 + 256];
    let config = zlib_rs::DeflateConfig {
        window_bits: 31,
        level,
        ..Default::default()
    };
    let (done, rc) = zlib_rs::compress_slice(&mut out, data, config);
    assert_eq!(rc, zlib_rs::ReturnCode::Ok, "deflate");
    let n = done.len();
    out.truncate(n);
    out
}

/// zlib-rs's message for a stream already in its bad state (fuzz_findings.md F2).
pub const ZLIB_RS_BAD_STATE: &str = "repeated call with bad state";

/// F2 (README): zlib-rs's fast loop overwrites zlib's message with this one; `gunzip` must
/// recover zlib's own, whatever the output buffer.
fn no_bad_state(r: &Result<(), InflateError>) {
    assert_ne!(
        r,
        &Err(InflateError::Bad(ZLIB_RS_BAD_STATE)),
        "zlib-rs's message leaked (F2)"
    );
}

/// The production cap.
pub const DEFAULT_CAP: usize = 16 * 1024 * 1024;

/// Target `gunzip`: `[mode, cap lo, cap hi, payload...]`. Even mode: the payload is a gzip
/// member (or not); odd mode: the payload, repeated `1 + mode >> 4` times, is compressed at
/// level `(mode >> 1) & 7` and must come back exactly, or be refused as too large exactly when
/// it is over the cap.
pub fn gunzip_target(data: &[u8]) {
    let [mode, lo, hi, payload @ ..] = data else {
        return;
    };
    let cap = usize::from(u16::from_le_bytes([*lo, *hi]));
    let mut out = Vec::new();
    if mode & 1 == 0 {
        let r = inflate::gunzip(payload, cap, &mut out);
        no_bad_state(&r);
        fast_agrees(payload, cap, &r, &out);
        match &r {
            Ok(()) => assert!(out.len() <= cap, "{} bytes out, cap {cap}", out.len()),
            Err(_) => assert!(out.len() <= cap + 1, "{} bytes kept, cap {cap}", out.len()),
        }
        // The same member under the production cap.
        let mut full = Vec::new();
        let rf = inflate::gunzip(payload, DEFAULT_CAP, &mut full);
        no_bad_state(&rf);
        assert!(full.len() <= DEFAULT_CAP + 1);
        match (&r, &rf) {
            (Ok(()), _) => {
                assert_eq!(rf, Ok(()), "a larger cap cannot fail");
                assert_eq!(out, full);
                // Exactly at the size is fine, one byte less is too large.
                let mut again = Vec::new();
                assert_eq!(inflate::gunzip(payload, out.len(), &mut again), Ok(()));
                assert_eq!(again, out);
                if let Some(less) = out.len().checked_sub(1) {
                    assert_eq!(
                        inflate::gunzip(payload, less, &mut again),
                        Err(InflateError::TooLarge)
                    );
                }
            }
            (Err(InflateError::TooLarge), Ok(())) => assert!(full.len() > cap),
            (Err(InflateError::TooLarge), Err(_)) => {}
            (Err(e), Ok(())) => panic!("{e:?} under cap {cap}, Ok under the default cap"),
            (Err(_), Err(_)) => assert_eq!(r, rf, "the error does not depend on the cap"),
        }
    } else {
        let level = i32::from((mode >> 1) & 7);
        let times = 1 + usize::from(mode >> 4);
        let plain = payload.repeat(times);
        let gz = gzip(&plain, level);
        let r = inflate::gunzip(&gz, cap, &mut out);
        fast_agrees(&gz, cap, &r, &out);
        if plain.len() <= cap {
            assert_eq!(r, Ok(()), "a member within the cap inflates");
            assert_eq!(out, plain);
        } else {
            assert_eq!(r, Err(InflateError::TooLarge));
            assert!(out.len() <= cap + 1);
        }
    }
}

/// `gunzip_fast` (libdeflate when the member is plain and its ISIZE fits, else `gunzip`) gives
/// the strict inflater's result, and the same bytes; a reused decompressor too.
fn fast_agrees(input: &[u8], cap: usize, strict: &Result<(), InflateError>, want: &[u8]) {
    let mut fast = None;
    let mut out = Vec::new();
    for _ in 0..2 {
        let r = inflate::gunzip_fast(&mut fast, input, cap, &mut out);
        no_bad_state(&r);
        assert_eq!(&r, strict, "gunzip_fast and gunzip differ");
        if r.is_ok() {
            assert_eq!(out, want, "gunzip_fast inflated other bytes");
        }
    }
}

// -- structure-aware frames -------------------------------------------------------------------

/// The flags byte of a `mutate_frame` input (the rest is the frame's JSON text).
#[derive(Debug, Clone, Copy)]
pub struct Flags(pub u8);

impl Flags {
    /// 0 xt, 1 woo, 2 htx, 3 all three.
    pub fn exchange(self) -> usize {
        usize::from(self.0 & 3)
    }
    pub fn gzip(self) -> bool {
        self.0 & 4 != 0
    }
    pub fn decimal(self) -> bool {
        self.0 & 8 != 0
    }
    pub fn small(self) -> bool {
        self.0 & 16 != 0
    }

    pub fn new(exchange: usize, gzip: bool, decimal: bool, small: bool) -> Flags {
        Flags(
            (exchange as u8 & 3)
                | if gzip { 4 } else { 0 }
                | if decimal { 8 } else { 0 }
                | if small { 16 } else { 0 },
        )
    }
}

/// Target `mutate_frame`: `[flags, JSON text...]`, the text mutated by [`mutate`] (a custom
/// libFuzzer mutator that keeps it JSON), decoded as the flags say.
pub fn mutate_frame_target(data: &[u8]) {
    let [flags, text @ ..] = data else { return };
    let flags = Flags(*flags);
    let frame: Cow<'_, [u8]> = if flags.gzip() {
        Cow::Owned(gzip(text, 6))
    } else {
        Cow::Borrowed(text)
    };
    let which = match (flags.small(), flags.decimal()) {
        (true, false) => 0,
        (false, true) => 1,
        (true, true) => 2,
        (false, false) => 3,
    };
    let all = &engines().by_exchange;
    match all.get(flags.exchange()) {
        Some(e) => decode_and_check(&e[which], &frame),
        None => {
            for e in all {
                decode_and_check(&e[which], &frame);
            }
        }
    }
}
