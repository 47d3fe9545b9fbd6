//! The JSON value model and parser.
//!
//! It accepts exactly what the reference decoder's `msgspec.json.Decoder(float_hook=...)` accepts
//! and keeps what the plan needs:
//!
//! * number literals keep their exact text: an integer literal is a Python `int` (any size up
//!   to msgspec's 4300-character limit), a literal with a fraction or an exponent is the
//!   `_JsonFloat` text, so decimal mode keeps every digit;
//! * strings borrow from the input unless they hold escapes; the input must be valid UTF-8;
//! * objects keep every member in wire order; lookups take the *last* member of a key
//!   (msgspec builds a dict, so the last duplicate wins) and [`dedup_members`] gives the
//!   dict's iteration order (first position, last value);
//! * object keys the plan looks up are interned at parse time ([`KeyTable`]), so a lookup
//!   compares integers;
//! * nesting is tracked with an explicit stack (no recursion), capped at `hard_depth`.
//!   The reference decoder checks `max_depth` on the *decoded* dict, so a frame is too deep only
//!   if its depth after dropping overwritten duplicates exceeds `max_depth` ([`parse`] does that).

use crate::tape::scan_plain;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A JSON value of a frame (borrowing from its text) or of the plan (`'static`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// An integer literal exactly as written (a Python `int`).
    Int(Cow<'a, str>),
    /// A literal with a fraction or an exponent, exactly as written (a `_JsonFloat`).
    Float(Cow<'a, str>),
    /// A real Python float: only plan constants (`json.loads` makes floats of them).
    PyFloat(f64),
    Str(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in wire order, duplicates included.
    Object(Vec<Member<'a>>),
}

/// An object member; `id` is the key's id in the plan's [`KeyTable`] (0: a key the plan never
/// looks up), so lookups compare integers, not text.
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    pub key: Cow<'a, str>,
    pub id: u32,
    pub value: Value<'a>,
}

impl<'a> Value<'a> {
    /// The value of `key` in an object (the last duplicate wins); `None` for a non-object.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    /// [`Value::get`] by key id (from the [`KeyTable`] the frame was parsed with; 0 compares
    /// the text).
    #[inline]
    pub fn get_id(&self, id: u32, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) if id != 0 => {
                members.iter().rev().find(|m| m.id == id).map(|m| &m.value)
            }
            Value::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// A copy that owns all of its text.
    pub fn into_static(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(t) => Value::Int(Cow::Owned(t.into_owned())),
            Value::Float(t) => Value::Float(Cow::Owned(t.into_owned())),
            Value::PyFloat(f) => Value::PyFloat(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::into_static).collect())
            }
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|m| Member {
                        key: Cow::Owned(m.key.into_owned()),
                        id: m.id,
                        value: m.value.into_static(),
                    })
                    .collect(),
            ),
        }
    }
}

/// The members of an object as the decoded dict iterates them: each key once, at the position
/// of its first occurrence, with the value of its last.
pub fn dedup_members<'v, 'a>(members: &'v [Member<'a>]) -> Vec<(&'v Cow<'a, str>, &'v Value<'a>)> {
    let mut out: Vec<(&'v Cow<'a, str>, &'v Value<'a>)> = Vec::with_capacity(members.len());
    if members.len() <= 16 {
        for m in members {
            match out.iter_mut().find(|(k, _)| **k == m.key) {
                Some(slot) => slot.1 = &m.value,
                None => out.push((&m.key, &m.value)),
            }
        }
    } else {
        let mut index: HashMap<&'v str, usize> = HashMap::with_capacity(members.len());
        for m in members {
            match index.get(m.key.as_ref()) {
                Some(&i) => {
                    if let Some(slot) = out.get_mut(i) {
                        slot.1 = &m.value;
                    }
                }
                None => {
                    index.insert(m.key.as_ref(), out.len());
                    out.push((&m.key, &m.value));
                }
            }
        }
    }
    out
}

/// The keys the plan looks up, each with an id (from 1), to intern object keys at parse time.
///
/// A key is read as (bytes 0..8, bytes 8..16, length), each word zero-extended; for keys of up
/// to 16 bytes that triple *is* the key, so a lookup compares three integers and never calls
/// memcmp. The tape parser gets the words for free from its string scan ([`KeyTable::find`]).
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    names: Vec<String>,
    /// Open addressing, at most half full (a miss usually stops at the first slot); the slots
    /// hold the words, so a hit reads one slot.
    slots: Vec<KeySlot>,
}

/// A slot of [`KeyTable::slots`]: a key's words, length and id (id 0: empty).
#[derive(Debug, Clone, Copy)]
struct KeySlot {
    head: u64,
    tail: u64,
    len: u32,
    id: u32,
}

/// An empty slot: its length matches no key.
const FREE: KeySlot = KeySlot {
    head: 0,
    tail: 0,
    len: u32::MAX,
    id: 0,
};

/// A table with no keys: every lookup is 0.
pub(crate) static NO_KEYS: KeyTable = KeyTable {
    names: Vec::new(),
    slots: Vec::new(),
};

/// Up to 8 bytes as a little-endian word, zero-extended.
#[inline]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), b.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

/// (head, tail) words of a key: bytes 0..8 and 8..16, zero-extended.
#[inline]
fn key_words(b: &[u8]) -> (u64, u64) {
    (word(b), word(b.get(8..).unwrap_or_default()))
}

/// The slot hash of a key's words (its upper bits are the well-mixed ones).
#[inline(always)]
fn key_hash(head: u64, tail: u64) -> usize {
    ((head ^ tail.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize
}

impl KeyTable {
    /// The id of `key`, added if new.
    pub fn intern(&mut self, key: &str) -> u32 {
        if let Some(i) = self.names.iter().position(|n| n == key) {
            return i as u32 + 1;
        }
        self.names.push(key.to_owned());
        self.rebuild();
        self.names.len() as u32
    }

    fn rebuild(&mut self) {
        // At most 2^24 slots: key_hash gives 24 bits (a plan has a few hundred keys).
        let size = (self.names.len() * 2)
            .next_power_of_two()
            .clamp(16, 1 << 24);
        let mut slots = vec![FREE; size];
        for (i, name) in self.names.iter().enumerate() {
            let (head, tail) = key_words(name.as_bytes());
            let mut at = key_hash(head, tail) & (size - 1);
            while slots[at].id != 0 {
                at = (at + 1) & (size - 1);
            }
            slots[at] = KeySlot {
                head,
                tail,
                // A key over 4 GiB is never found.
                len: u32::try_from(name.len()).unwrap_or(u32::MAX),
                id: i as u32 + 1,
            };
        }
        self.slots = slots;
    }

    /// The id of `key`, or 0.
    #[inline]
    pub fn lookup(&self, key: &str) -> u32 {
        self.lookup_bytes(key.as_bytes())
    }

    /// [`KeyTable::lookup`] of a key's bytes.
    #[inline]
    pub fn lookup_bytes(&self, b: &[u8]) -> u32 {
        let (head, tail) = key_words(b);
        self.find(head, tail, b.len(), b)
    }

    /// The id of the key of `len` bytes whose [`key_words`] are `head`, `tail`, or 0; `key` (its
    /// bytes) is read only when it is over 16 bytes long.
    #[inline(always)]
    pub(crate) fn find(&self, head: u64, tail: u64, len: usize, key: &[u8]) -> u32 {
        // An empty table has no slots: the mask wraps and `get` misses.
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = key_hash(head, tail) & mask;
        while let Some(s) = self.slots.get(at) {
            if s.head == head && s.tail == tail && s.len as usize == len {
                if len <= 16
                    || self
                        .names
                        .get((s.id as usize).wrapping_sub(1))
                        .is_some_and(|x| x.as_bytes() == key)
                {
                    return s.id;
                }
            } else if s.id == 0 {
                return 0;
            }
            at = (at + 1) & mask;
        }
        0
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Why a text is not accepted as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON (msgspec's `DecodeError`); the message says what and where.
    Syntax(String),
    /// The bytes are not UTF-8 (msgspec raises `UnicodeDecodeError`).
    Utf8 { reason: &'static str, at: usize },
    /// Nested deeper than the limit.
    TooDeep,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(m) => f.write_str(m),
            JsonError::Utf8 { reason, at } => write!(f, "{reason} at byte {at}"),
            JsonError::TooDeep => f.write_str("too deeply nested"),
        }
    }
}

/// Limits of one parse.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Depth of the decoded value (duplicates dropped) above which a frame is refused.
    pub max_depth: usize,
    /// Raw nesting above which parsing stops at once (bounds memory and work).
    pub hard_depth: usize,
    /// `sys.get_int_max_str_digits()` (0: no limit): longer big-int literals are refused like
    /// CPython's `int()` refuses them inside msgspec.
    pub int_max_str_digits: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_depth: 128,
            hard_depth: 1000,
            int_max_str_digits: 4300,
        }
    }
}

/// msgspec refuses an integer literal longer than this (sign included) as out of range.
pub const MAX_INT_LITERAL: usize = 4300;

/// Validate UTF-8 and parse one JSON document.
pub fn parse_bytes<'a>(
    buf: &'a [u8],
    limits: ParseLimits,
    keys: Option<&KeyTable>,
) -> Result<Value<'a>, JsonError> {
    let text = match std::str::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => return Err(utf8_error(buf, &e)),
    };
    parse(text, limits, keys)
}

#[cold]
#[inline(never)]
pub fn utf8_error(buf: &[u8], e: &std::str::Utf8Error) -> JsonError {
    let at = e.valid_up_to();
    let reason = match e.error_len() {
        None => "unexpected end of data",
        Some(_) => match buf.get(at) {
            Some(&b) if (0x80..0xc2).contains(&b) || b >= 0xf5 => "invalid start byte",
            _ => "invalid continuation byte",
        },
    };
    JsonError::Utf8 { reason, at }
}

/// Parser buffers kept between frames (their allocations are reused; they hold nothing).
#[derive(Default)]
pub struct Scratch {
    items: Vec<Value<'static>>,
    members: Vec<Member<'static>>,
    stack: Vec<Frame<'static>>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Scratch({}, {}, {})",
            self.items.capacity(),
            self.members.capacity(),
            self.stack.capacity()
        )
    }
}

/// An empty vector with `v`'s allocation, for another lifetime: an in-place collect of
/// nothing (same size and alignment), so no allocation and no unsafe code.
fn recycle<'a, T, U>(mut v: Vec<T>) -> Vec<U>
where
    T: 'a,
{
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// An open container: where its items start on the scratch stacks (and an object's next key).
enum Frame<'a> {
    Array(usize),
    Object(usize, Cow<'a, str>, u32),
}

struct Parser<'a, 'k> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    limits: ParseLimits,
    keys: Option<&'k KeyTable>,
    /// Items of the open arrays and members of the open objects; a container takes its own
    /// off the top when it closes (one exact-size allocation per container).
    items: Vec<Value<'a>>,
    members: Vec<Member<'a>>,
    stack: Vec<Frame<'a>>,
}

/// Parse one JSON document from valid UTF-8 text; object keys get their id in `keys`.
pub fn parse<'a>(
    text: &'a str,
    limits: ParseLimits,
    keys: Option<&KeyTable>,
) -> Result<Value<'a>, JsonError> {
    parse_with(text, limits, keys, &mut Scratch::default())
}

/// [`parse`] with buffers kept from an earlier parse.
pub fn parse_with<'a>(
    text: &'a str,
    limits: ParseLimits,
    keys: Option<&KeyTable>,
    scratch: &mut Scratch,
) -> Result<Value<'a>, JsonError> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: 0,
        limits,
        keys,
        items: std::mem::take(&mut scratch.items),
        members: std::mem::take(&mut scratch.members),
        stack: std::mem::take(&mut scratch.stack),
    };
    let result = p.document();
    scratch.items = recycle(p.items);
    scratch.members = recycle(p.members);
    scratch.stack = recycle(p.stack);
    let (value, deepest) = result?;
    if deepest > limits.max_depth && dedup_depth(&value) > limits.max_depth {
        return Err(JsonError::TooDeep);
    }
    Ok(value)
}

impl<'a> Parser<'a, '_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn err(&self, what: &str) -> JsonError {
        JsonError::Syntax(format!("JSON is malformed: {what} (byte {})", self.pos))
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self) -> JsonError {
        JsonError::Syntax("Input data was truncated".to_owned())
    }

    /// The whole document: (value, deepest raw nesting).
    fn document(&mut self) -> Result<(Value<'a>, usize), JsonError> {
        let mut stack: Vec<Frame<'a>> = std::mem::take(&mut self.stack);
        let result = self.document_with(&mut stack);
        self.stack = stack;
        result
    }

    fn document_with(
        &mut self,
        stack: &mut Vec<Frame<'a>>,
    ) -> Result<(Value<'a>, usize), JsonError> {
        let mut deepest = 0usize;
        'value: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                None => return Err(self.truncated()),
                Some(b'{') => {
                    self.pos += 1;
                    let depth = stack.len() + 1;
                    if depth > self.limits.hard_depth {
                        return Err(JsonError::TooDeep);
                    }
                    deepest = deepest.max(depth);
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let (key, id) = self.key()?;
                        stack.push(Frame::Object(self.members.len(), key, id));
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    let depth = stack.len() + 1;
                    if depth > self.limits.hard_depth {
                        return Err(JsonError::TooDeep);
                    }
                    deepest = deepest.max(depth);
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            Value::Array(Vec::new())
                        }
                        None => return Err(self.truncated()),
                        _ => {
                            stack.push(Frame::Array(self.items.len()));
                            continue 'value;
                        }
                    }
                }
                Some(b'"') => Value::Str(self.string()?),
                Some(b't') => {
                    self.literal(b"true")?;
                    Value::Bool(true)
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    Value::Bool(false)
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    Value::Null
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.err("invalid character")),
            };
            // Attach the finished value to its container, closing containers as they end.
            loop {
                match stack.last_mut() {
                    None => {
                        self.skip_ws();
                        if self.pos != self.b.len() {
                            return Err(self.err("trailing characters"));
                        }
                        return Ok((value, deepest));
                    }
                    Some(Frame::Array(start)) => {
                        let start = *start;
                        self.items.push(value);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                if self.peek() == Some(b']') {
                                    return Err(self.err("trailing comma in array"));
                                }
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                stack.pop();
                                let start = start.min(self.items.len());
                                value = Value::Array(self.items.drain(start..).collect());
                            }
                            None => return Err(self.truncated()),
                            Some(_) => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                    Some(Frame::Object(start, key, id)) => {
                        let start = *start;
                        self.members.push(Member {
                            key: std::mem::take(key),
                            id: *id,
                            value,
                        });
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                if self.peek() == Some(b'}') {
                                    return Err(self.err("trailing comma in object"));
                                }
                                let (next, next_id) = self.key()?;
                                if let Some(Frame::Object(_, key, id)) = stack.last_mut() {
                                    *key = next;
                                    *id = next_id;
                                }
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                stack.pop();
                                let start = start.min(self.members.len());
                                value = Value::Object(self.members.drain(start..).collect());
                            }
                            None => return Err(self.truncated()),
                            Some(_) => return Err(self.err("expected ',' or '}'")),
                        }
                    }
                }
            }
        }
    }

    /// `"key" :` (whitespace before the key already skipped), with the key's id.
    #[inline(always)]
    fn key(&mut self) -> Result<(Cow<'a, str>, u32), JsonError> {
        match self.peek() {
            Some(b'"') => {}
            None => return Err(self.truncated()),
            Some(_) => return Err(self.err("object keys must be strings")),
        }
        let key = self.string()?;
        let id = self.keys.map_or(0, |t| t.lookup(&key));
        self.skip_ws();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok((key, id))
            }
            None => Err(self.truncated()),
            Some(_) => Err(self.err("expected ':'")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        match self.b.get(self.pos..end) {
            Some(s) if s == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(self.err("invalid character")),
            None => {
                // A prefix of the word up to the end is a truncation, anything else is bad.
                let rest = self.b.get(self.pos..).unwrap_or_default();
                if word.starts_with(rest) {
                    Err(self.truncated())
                } else {
                    Err(self.err("invalid character"))
                }
            }
        }
    }

    #[inline]
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
            if self.pos == self.b.len() {
                return Err(self.err("invalid number"));
            }
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.err("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid character")),
        }
        let int_digits = self.pos - start - usize::from(negative);
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            is_float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        let text = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.err("invalid number"))?;
        if is_float {
            return Ok(Value::Float(Cow::Borrowed(text)));
        }
        // msgspec hands integers that do not fit 64 bits to CPython's int(): over 4300
        // characters, or over sys.get_int_max_str_digits() digits, is "out of range".
        if text.len() > 19 {
            let limit = self.limits.int_max_str_digits;
            if text.len() > MAX_INT_LITERAL || (limit > 0 && int_digits > limit) {
                return Err(JsonError::Syntax("Integer value out of range".to_owned()));
            }
        }
        Ok(Value::Int(Cow::Borrowed(text)))
    }

    /// A string at `"`: borrowed when it has no escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1; // the opening quote
        let start = self.pos;
        loop {
            self.pos = scan_plain(self.b, self.pos);
            match self.peek() {
                None => return Err(self.truncated()),
                Some(b'"') => {
                    let s = self
                        .text
                        .get(start..self.pos)
                        .ok_or_else(|| self.err("invalid string"))?;
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(c) if c < 0x20 => return Err(self.err("invalid character")),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(self.text.get(start..self.pos).unwrap_or_default());
        loop {
            match self.peek() {
                None => return Err(self.truncated()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(c) if c < 0x20 => return Err(self.err("invalid character")),
                Some(_) => {
                    // Copy a run of plain characters at once.
                    let run = self.pos;
                    self.pos = scan_plain(self.b, self.pos);
                    out.push_str(self.text.get(run..self.pos).unwrap_or_default());
                }
            }
        }
    }

    /// One escape after its backslash (the hot-path parser's, so both accept the same escapes
    /// with the same errors and positions).
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        self.pos = crate::tape::unescape_one(self.b, self.pos, out)?;
        Ok(())
    }
}

/// Nesting depth of a value as the reference decoder measures it on the decoded dict: containers
/// count, scalars do not, and an object member overwritten by a later duplicate key is gone.
pub fn dedup_depth(root: &Value<'_>) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value<'_>, usize)> = vec![(root, 1)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d);
                for item in items {
                    if matches!(item, Value::Array(_) | Value::Object(_)) {
                        stack.push((item, d + 1));
                    }
                }
            }
            Value::Object(members) => {
                deepest = deepest.max(d);
                // Walk backwards so the last occurrence of a key is the one that counts.
                let mut seen: HashSet<&str> = HashSet::new();
                for m in members.iter().rev() {
                    if !seen.insert(m.key.as_ref()) {
                        continue;
                    }
                    if matches!(m.value, Value::Array(_) | Value::Object(_)) {
                        stack.push((&m.value, d + 1));
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Value<'_>, JsonError> {
        parse(s, ParseLimits::default(), None)
    }

    #[test]
    fn scalars_keep_their_text() {
        assert_eq!(p("-0").unwrap(), Value::Int("-0".into()));
        assert_eq!(p("1.50").unwrap(), Value::Float("1.50".into()));
        assert_eq!(p("1E+05").unwrap(), Value::Float("1E+05".into()));
        assert_eq!(p(" true ").unwrap(), Value::Bool(true));
        assert_eq!(p("null").unwrap(), Value::Null);
        let big = "123456789012345678901234567890";
        assert_eq!(p(big).unwrap(), Value::Int(big.into()));
    }

    #[test]
    fn numbers_follow_msgspec() {
        for bad in [
            "01", "-01", "1.", ".5", "-", "1e", "1e+", "2.e3", "00", "+1", "NaN", "Infinity", "-a",
        ] {
            assert!(p(bad).is_err(), "{bad} must be refused");
        }
        for good in [
            "0",
            "-0",
            "0e0",
            "-0e-0",
            "1e400",
            "0.1e-999999999999999999999",
        ] {
            assert!(p(good).is_ok(), "{good} must be accepted");
        }
        let ok = "1".repeat(4300);
        assert!(p(&ok).is_ok());
        assert!(p(&"1".repeat(4301)).is_err());
        assert!(p(&format!("-{}", "1".repeat(4300))).is_err());
        assert!(p(&format!("-{}", "1".repeat(4299))).is_ok());
        // Floats have no length limit (they go to float_hook as text).
        assert!(p(&format!("{}.5", "1".repeat(5000))).is_ok());
        // A lower sys.set_int_max_str_digits applies to big ints.
        let limits = ParseLimits {
            int_max_str_digits: 1000,
            ..ParseLimits::default()
        };
        assert!(parse(&"1".repeat(1001), limits, None).is_err());
        assert!(parse(&"1".repeat(1000), limits, None).is_ok());
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(p(r#""a\/b\u00e9\n""#).unwrap(), Value::Str("a/bé\n".into()));
        assert_eq!(p(r#""\ud83d\ude00""#).unwrap(), Value::Str("😀".into()));
        assert_eq!(p(r#""\u0000""#).unwrap(), Value::Str("\u{0}".into()));
        assert_eq!(p("\"a\u{7f}\"").unwrap(), Value::Str("a\u{7f}".into()));
        for bad in [
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            r#""\x""#,
            r#""\u12G4""#,
            "\"\t\"",
            "\"abc",
        ] {
            assert!(p(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(matches!(p(r#""a""#).unwrap(), Value::Str(Cow::Borrowed(_))));
    }

    #[test]
    fn structure_errors() {
        for bad in [
            "[1,]",
            r#"{"a":1,}"#,
            "{1:2}",
            r#"{"a"}"#,
            "",
            " ",
            "[",
            r#"{"a":1}{"#,
            "\u{feff}{}",
            "{}\u{b}",
            "[1 2]",
        ] {
            assert!(p(bad).is_err(), "{bad:?} must be refused");
        }
        let v = p(r#"{"a" : 1 , "b":[ 1 , [2, {}], {"c": []} ] }"#).unwrap();
        let Some(Value::Array(items)) = v.get("b") else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert_eq!(items[2].get("c"), Some(&Value::Array(Vec::new())));
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let lim = ParseLimits::default();
        assert!(matches!(
            parse_bytes(b"\"\xff\"", lim, None),
            Err(JsonError::Utf8 { at: 1, .. })
        ));
        assert!(matches!(
            parse_bytes(b"\"\xed\xa0\x80\"", lim, None),
            Err(JsonError::Utf8 { .. })
        ));
    }

    #[test]
    fn duplicates_last_wins_first_position() {
        let v = p(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int("3".into())));
        let Value::Object(members) = &v else { panic!() };
        let d = dedup_members(members);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].0.as_ref(), d[0].1), ("a", &Value::Int("3".into())));
        assert_eq!(d[1].0, "b");
        // The large-object path agrees with the small one.
        let text = format!(
            "{{{}}}",
            (0..40)
                .map(|i| format!("\"k{}\":{}", i % 20, i))
                .collect::<Vec<_>>()
                .join(",")
        );
        let v = p(&text).unwrap();
        let Value::Object(members) = &v else { panic!() };
        let d = dedup_members(members);
        assert_eq!(d.len(), 20);
        assert_eq!((d[3].0.as_ref(), d[3].1), ("k3", &Value::Int("23".into())));
    }

    #[test]
    fn scratch_is_reused() {
        let mut scratch = Scratch::default();
        let text = r#"{"a":[1,2,{"b":3}],"c":{"d":[]}}"#.to_owned();
        let v = parse_with(&text, ParseLimits::default(), None, &mut scratch).unwrap();
        assert_eq!(v, p(&text).unwrap());
        let caps = (
            scratch.items.capacity(),
            scratch.members.capacity(),
            scratch.stack.capacity(),
        );
        assert!(caps.0 > 0 && caps.1 > 0 && caps.2 > 0, "{caps:?}");
        let again = r#"{"x":1}"#.to_owned();
        assert!(parse_with(&again, ParseLimits::default(), None, &mut scratch).is_ok());
        assert!(scratch.members.capacity() >= caps.1);
        assert!(parse_with("{", ParseLimits::default(), None, &mut scratch).is_err());
        assert!(scratch.items.is_empty() && scratch.members.is_empty() && scratch.stack.is_empty());
    }

    #[test]
    fn key_ids() {
        let mut t = KeyTable::default();
        let a = t.intern("symbol");
        let b = t.intern("s");
        assert_eq!(t.intern("symbol"), a);
        assert_eq!(t.lookup("s"), b);
        assert_eq!(t.lookup("nope"), 0);
        let v = parse(
            r#"{"s":1,"x":2,"\u0073":3}"#,
            ParseLimits::default(),
            Some(&t),
        )
        .unwrap();
        assert_eq!(v.get_id(b, "s"), Some(&Value::Int("3".into())));
        assert_eq!(v.get_id(0, "x"), Some(&Value::Int("2".into())));
        for i in 0..200 {
            t.intern(&format!("k{i}"));
        }
        assert_eq!(t.lookup("k150"), 153);
        assert_eq!(t.len(), 202);
    }

    #[test]
    fn depth_is_measured_after_dedup() {
        let limits = ParseLimits {
            max_depth: 3,
            hard_depth: 50,
            int_max_str_digits: 4300,
        };
        assert!(parse("[[[1]]]", limits, None).is_ok());
        assert_eq!(parse("[[[[1]]]]", limits, None), Err(JsonError::TooDeep));
        assert_eq!(parse("[[[{}]]]", limits, None), Err(JsonError::TooDeep));
        // The deep member is overwritten, so the decoded dict is shallow.
        assert!(parse(r#"{"a":[[[[[1]]]]],"a":1}"#, limits, None).is_ok());
        assert_eq!(
            parse(r#"{"a":1,"a":[[[[[1]]]]]}"#, limits, None),
            Err(JsonError::TooDeep)
        );
        // Raw nesting past the hard cap stops at once, without recursion.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep, limits, None), Err(JsonError::TooDeep));
    }
}
