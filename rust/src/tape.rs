//! The frame's JSON as a flat tape: one small fixed-size [`Node`] per value (and per object key),
//! in document order, borrowing the text.
//!
//! This is the hot-path form of [`crate::json`]: it accepts exactly the same texts (the same
//! grammar, limits and messages; `tests::agrees_with_the_tree_parser` holds the two together)
//! but builds no tree. Strings are spans of the input; a string with escapes is unescaped once,
//! at parse time, into the tape's arena. Numbers keep their exact text. A container node knows
//! where its subtree ends, so a lookup skips unused values without looking at them, and object
//! keys carry their [`KeyTable`] id, so lookups compare integers. The node and arena buffers are
//! reused from frame to frame.

use std::collections::HashSet;

use crate::json::{
    utf8_error, JsonError, KeyTable, Member, ParseLimits, Value, MAX_INT_LITERAL, NO_KEYS,
};

pub const NULL: u8 = 0;
pub const FALSE: u8 = 1;
pub const TRUE: u8 = 2;
pub const INT: u8 = 3;
pub const FLOAT: u8 = 4;
pub const STR: u8 = 5;
pub const ARRAY: u8 = 6;
pub const OBJECT: u8 = 7;

/// A string node whose text is in the arena (it had escapes).
pub const ESCAPED: u8 = 1;

/// One value (or object key).
///
/// * scalars (INT, FLOAT, STR): `a..a + b` is the text (in the input, or in the arena for an
///   ESCAPED string);
/// * ARRAY, OBJECT: `a` is the index one past the container's last node, `b` the number of
///   items (members for an object: each is a key node followed by its value's nodes);
/// * object keys are STR nodes whose `id` is the key's id in the plan's [`KeyTable`] (0: a key
///   the plan never looks up);
/// * an OBJECT with more than [`INDEX_MIN_MEMBERS`] members has `id` = 1 + the position of its
///   member index in [`Tape::index`] (0: none), so a lookup in it is a binary search, whatever
///   the frame's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Node {
    pub tag: u8,
    pub flags: u8,
    pub id: u32,
    pub a: u32,
    pub b: u32,
}

/// The reusable buffers of a parse; after [`Tape::parse`] they hold the frame's tape.
#[derive(Debug, Default)]
pub struct Tape {
    pub nodes: Vec<Node>,
    pub arena: String,
    /// Member indexes of large objects: at an object's position, `(n, 0)`, then its `n`
    /// `(key id, value node)` pairs sorted by key id, one per id (the last duplicate).
    pub index: Vec<(u32, u32)>,
    stack: Vec<Open>,
}

/// Objects with more members than this are indexed at parse time.
pub const INDEX_MIN_MEMBERS: u32 = 64;

/// An open container: its node, how many items it has so far, whether it is an object.
#[derive(Debug, Clone, Copy)]
struct Open {
    node: u32,
    count: u32,
    object: bool,
}

/// What [`Parser::fused_member`] took.
enum Fused {
    /// A key and its string value: the position after the value.
    Member(usize),
    /// A key: its value's position and first byte.
    Key((usize, u8)),
}

/// The bytes of text after a key's quote that [`Parser::fused_member`] scans at once (two
/// 16-byte chunks; three, for longer values, measured slower).
const W: usize = 32;

/// Whether [`Parser::fused_member`] runs: where [`stop_mask`] is one SSE2 mask.
const FUSED: bool = cfg!(all(target_arch = "x86_64", target_feature = "sse2"));

/// Where [`Parser::member_run`] stopped.
struct Run {
    pos: usize,
    members: u32,
    value: Option<u8>,
}

/// A parsed frame: the tape and the text it borrows.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a, 't> {
    pub text: &'a str,
    pub nodes: &'t [Node],
    pub arena: &'t str,
    pub index: &'t [(u32, u32)],
}

const EMPTY: Node = Node {
    tag: NULL,
    flags: 0,
    id: 0,
    a: 0,
    b: 0,
};

impl<'a, 't> Doc<'a, 't> {
    #[inline(always)]
    pub fn node(&self, i: u32) -> Node {
        self.nodes.get(i as usize).copied().unwrap_or(EMPTY)
    }

    #[inline(always)]
    pub fn tag(&self, i: u32) -> u8 {
        self.node(i).tag
    }

    /// The index after node `i`'s subtree.
    #[inline(always)]
    pub fn next(&self, i: u32) -> u32 {
        let n = self.node(i);
        if n.tag >= ARRAY {
            n.a.max(i + 1)
        } else {
            i + 1
        }
    }

    /// The text of a scalar or key node (strings unescaped), borrowed from the tape.
    #[inline(always)]
    pub fn text(&self, i: u32) -> &'t str
    where
        'a: 't,
    {
        let n = self.node(i);
        let src: &'t str = if n.flags & ESCAPED != 0 {
            self.arena
        } else {
            self.text
        };
        src.get(n.a as usize..(n.a as usize).saturating_add(n.b as usize))
            .unwrap_or_default()
    }

    /// The text of an unescaped scalar node with the input's lifetime (None: it is in the arena).
    #[inline(always)]
    pub fn raw(&self, i: u32) -> Option<&'a str> {
        let n = self.node(i);
        if n.flags & ESCAPED != 0 {
            return None;
        }
        self.text
            .get(n.a as usize..(n.a as usize).saturating_add(n.b as usize))
    }

    /// The value of member `id` (text `key` when `id` is 0) of object node `obj`: the last
    /// duplicate wins. None for a non-object.
    #[inline]
    pub fn get(&self, obj: u32, id: u32, key: &str) -> Option<u32>
    where
        'a: 't,
    {
        let n = self.node(obj);
        if n.tag != OBJECT {
            return None;
        }
        if id != 0 && n.id != 0 {
            return self.indexed(n.id - 1, id);
        }
        let end = n.a;
        let mut i = obj + 1;
        let mut found = None;
        while i < end {
            let k = self.node(i);
            let hit = if id != 0 {
                k.id == id
            } else {
                self.text(i) == key
            };
            if hit {
                found = Some(i + 1);
            }
            i = self.next(i + 1);
        }
        found
    }

    /// A lookup in the member index at `at` of [`Tape::index`].
    fn indexed(&self, at: u32, id: u32) -> Option<u32> {
        let at = at as usize;
        let &(n, _) = self.index.get(at)?;
        let entries = self.index.get(at + 1..at + 1 + n as usize)?;
        entries
            .binary_search_by_key(&id, |&(k, _)| k)
            .ok()
            .and_then(|i| entries.get(i))
            .map(|&(_, v)| v)
    }

    /// The items of array node `arr` (None for a non-array).
    #[inline]
    pub fn items(&self, arr: u32) -> Option<Items<'_, 'a, 't>> {
        let n = self.node(arr);
        (n.tag == ARRAY).then_some(Items {
            doc: self,
            at: arr + 1,
            end: n.a,
        })
    }

    /// The `i`-th item of array node `arr`.
    pub fn item(&self, arr: u32, index: usize) -> Option<u32> {
        let n = self.node(arr);
        if n.tag != ARRAY || index >= n.b as usize {
            return None;
        }
        let mut at = arr + 1;
        for _ in 0..index {
            at = self.next(at);
        }
        Some(at)
    }

    /// The members of object node `obj` as (key node, value node), duplicates included.
    #[inline]
    pub fn members(&self, obj: u32) -> Option<Members<'_, 'a, 't>> {
        let n = self.node(obj);
        (n.tag == OBJECT).then_some(Members {
            doc: self,
            at: obj + 1,
            end: n.a,
        })
    }

    /// The members of an object as the decoded dict iterates them: each key once, at the
    /// position of its first occurrence, with the value of its last.
    pub fn dedup_members(&self, obj: u32) -> Vec<(u32, u32)>
    where
        'a: 't,
    {
        let Some(members) = self.members(obj) else {
            return Vec::new();
        };
        let all: Vec<(u32, u32)> = members.collect();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        if all.len() <= 16 {
            for (k, v) in all {
                let t = self.text(k);
                match out.iter_mut().find(|(x, _)| self.text(*x) == t) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
        } else {
            let mut index: std::collections::HashMap<&str, usize> =
                std::collections::HashMap::with_capacity(all.len());
            for (k, v) in all {
                match index.get(self.text(k)) {
                    Some(&i) => {
                        if let Some(slot) = out.get_mut(i) {
                            slot.1 = v;
                        }
                    }
                    None => {
                        index.insert(self.text(k), out.len());
                        out.push((k, v));
                    }
                }
            }
        }
        out
    }

    /// The value at node `i` as a [`Value`] tree (for tests and cold paths).
    pub fn to_value(&self, i: u32) -> Value<'static>
    where
        'a: 't,
    {
        let n = self.node(i);
        match n.tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(self.text(i).to_owned().into()),
            FLOAT => Value::Float(self.text(i).to_owned().into()),
            STR => Value::Str(self.text(i).to_owned().into()),
            ARRAY => Value::Array(
                self.items(i)
                    .into_iter()
                    .flatten()
                    .map(|x| self.to_value(x))
                    .collect(),
            ),
            _ => Value::Object(
                self.members(i)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| Member {
                        key: self.text(k).to_owned().into(),
                        id: self.node(k).id,
                        value: self.to_value(v),
                    })
                    .collect(),
            ),
        }
    }

    /// Nesting depth as the reference decoder measures it on the decoded dict (an object
    /// member overwritten by a later duplicate key is gone).
    #[cold]
    #[inline(never)]
    pub fn dedup_depth(&self, root: u32) -> usize
    where
        'a: 't,
    {
        let mut deepest = 0;
        let mut stack: Vec<(u32, usize)> = vec![(root, 1)];
        while let Some((v, d)) = stack.pop() {
            match self.tag(v) {
                ARRAY => {
                    deepest = deepest.max(d);
                    for item in self.items(v).into_iter().flatten() {
                        if self.tag(item) >= ARRAY {
                            stack.push((item, d + 1));
                        }
                    }
                }
                OBJECT => {
                    deepest = deepest.max(d);
                    let members: Vec<(u32, u32)> = self.members(v).into_iter().flatten().collect();
                    let mut seen: HashSet<&str> = HashSet::new();
                    for &(k, val) in members.iter().rev() {
                        if !seen.insert(self.text(k)) {
                            continue;
                        }
                        if self.tag(val) >= ARRAY {
                            stack.push((val, d + 1));
                        }
                    }
                }
                _ => {}
            }
        }
        deepest
    }
}

pub struct Items<'d, 'a, 't> {
    doc: &'d Doc<'a, 't>,
    at: u32,
    end: u32,
}

impl Iterator for Items<'_, '_, '_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.at >= self.end {
            return None;
        }
        let i = self.at;
        self.at = self.doc.next(i);
        Some(i)
    }
}

pub struct Members<'d, 'a, 't> {
    doc: &'d Doc<'a, 't>,
    at: u32,
    end: u32,
}

impl Iterator for Members<'_, '_, '_> {
    type Item = (u32, u32);
    #[inline]
    fn next(&mut self) -> Option<(u32, u32)> {
        if self.at >= self.end {
            return None;
        }
        let k = self.at;
        let v = k + 1;
        self.at = self.doc.next(v);
        Some((k, v))
    }
}

impl Tape {
    /// Parse one JSON document (valid UTF-8 text) into the tape; the root is node 0.
    pub fn parse(
        &mut self,
        text: &str,
        limits: ParseLimits,
        keys: Option<&KeyTable>,
    ) -> Result<(), JsonError> {
        self.parse_utf8(text.as_bytes(), limits, keys).map(|_| ())
    }

    /// [`Tape::parse`] of bytes, as `std::str::from_utf8` and then [`Tape::parse`] would (the
    /// same text, or the same error: invalid UTF-8 anywhere is a [`JsonError::Utf8`] whatever
    /// else is wrong), but with the UTF-8 check folded into the parse: only the non-ASCII bytes
    /// of strings are checked, as the JSON grammar allows only ASCII outside them.
    pub fn parse_utf8<'a>(
        &mut self,
        buf: &'a [u8],
        limits: ParseLimits,
        keys: Option<&KeyTable>,
    ) -> Result<&'a str, JsonError> {
        self.nodes.clear();
        self.arena.clear();
        self.index.clear();
        self.stack.clear();
        if buf.len() >= u32::MAX as usize {
            return Err(utf8_first(
                buf,
                JsonError::Syntax("JSON is malformed: too large".to_owned()),
            ));
        }
        self.nodes.reserve(buf.len() / 4 + 4);
        let mut p = Parser {
            b: buf,
            limits,
            keys: keys.unwrap_or(&NO_KEYS),
            nodes: &mut self.nodes,
            arena: &mut self.arena,
            index: &mut self.index,
            stack: &mut self.stack,
        };
        let deepest = match p.document() {
            Ok(deepest) => deepest,
            Err(e) => return Err(utf8_first(buf, *e.0)),
        };
        // SAFETY: `document` accepted the whole of `buf` (it fails on trailing bytes), and it
        // accepts a byte outside a string only by comparing it with ASCII bytes (structure,
        // whitespace, numbers, literals), so those are ASCII. Inside strings, the scan stops at
        // every non-ASCII byte (`first_stop_utf8`, and the byte loop of `scan_string`), and
        // `non_ascii` accepts the run from there to the next quote, backslash or control byte
        // only if `str::from_utf8` does; `escaped_string` passes its runs through
        // `str::from_utf8` too, and escapes are ASCII. An ASCII byte is never part of a
        // multi-byte sequence, so valid UTF-8 runs between ASCII bytes make valid UTF-8 text.
        // (`tests::parse_utf8_agrees_with_from_utf8` holds this against `str::from_utf8`.)
        let text = unsafe { std::str::from_utf8_unchecked(buf) };
        if deepest > limits.max_depth {
            let doc = self.doc(text);
            if doc.dedup_depth(0) > limits.max_depth {
                return Err(JsonError::TooDeep);
            }
        }
        Ok(text)
    }

    pub fn doc<'a, 't>(&'t self, text: &'a str) -> Doc<'a, 't> {
        Doc {
            text,
            nodes: &self.nodes,
            arena: &self.arena,
            index: &self.index,
        }
    }
}

/// `e`, unless `buf` is not UTF-8: then that error, as `from_utf8` before the parse gives it.
#[cold]
#[inline(never)]
fn utf8_first(buf: &[u8], e: JsonError) -> JsonError {
    match std::str::from_utf8(buf) {
        Ok(_) => e,
        Err(u) => utf8_error(buf, &u),
    }
}

/// A parse error, one pointer wide (so results travel in registers).
struct PErr(Box<JsonError>);

type PResult<T> = Result<T, PErr>;

#[cold]
#[inline(never)]
fn err_at(pos: usize, what: &str) -> PErr {
    PErr(Box::new(JsonError::Syntax(format!(
        "JSON is malformed: {what} (byte {pos})"
    ))))
}

#[cold]
#[inline(never)]
fn truncated() -> PErr {
    PErr(Box::new(JsonError::Syntax(
        "Input data was truncated".to_owned(),
    )))
}

#[cold]
#[inline(never)]
fn too_deep() -> PErr {
    PErr(Box::new(JsonError::TooDeep))
}

#[cold]
#[inline(never)]
fn int_out_of_range() -> PErr {
    PErr(Box::new(JsonError::Syntax(
        "Integer value out of range".to_owned(),
    )))
}

#[inline(always)]
fn push(nodes: &mut Vec<Node>, tag: u8, flags: u8, a: usize, b: usize) {
    nodes.push(Node {
        tag,
        flags,
        id: 0,
        a: a as u32,
        b: b as u32,
    });
}

/// Push a key's node and its value's, with one capacity check.
#[inline(always)]
fn push2(nodes: &mut Vec<Node>, key: Node, value: Node) {
    nodes.reserve(2);
    let len = nodes.len();
    // SAFETY: `reserve(2)` leaves a capacity of at least `len + 2`, so slots `len` and
    // `len + 1` are allocated and unused; both are written before `set_len` covers them.
    unsafe {
        let end = nodes.as_mut_ptr().add(len);
        end.write(key);
        end.add(1).write(value);
        nodes.set_len(len + 2);
    }
}

/// Skip JSON whitespace from `pos`.
#[inline(always)]
fn ws(b: &[u8], mut pos: usize) -> usize {
    while let Some(&c) = b.get(pos) {
        if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// Skip whitespace, with one comparison when there is none (compact JSON).
macro_rules! skip_ws {
    ($b:expr, $pos:ident) => {
        if let Some(&c) = $b.get($pos) {
            if c <= b' ' {
                $pos = ws($b, $pos);
            }
        }
    };
}

/// The parser: the position lives in a local, helpers take and return it.
struct Parser<'a, 'k, 'p> {
    /// The text: UTF-8 is checked as it is parsed (see [`Tape::parse_utf8`]).
    b: &'a [u8],
    limits: ParseLimits,
    keys: &'k KeyTable,
    nodes: &'p mut Vec<Node>,
    arena: &'p mut String,
    index: &'p mut Vec<(u32, u32)>,
    /// The open containers that enclose the innermost one (which lives in locals).
    stack: &'p mut Vec<Open>,
}

impl Parser<'_, '_, '_> {
    /// The whole document: the deepest raw nesting.
    fn document(&mut self) -> PResult<usize> {
        let b = self.b;
        let mut deepest = 0usize;
        // The innermost open container (none at depth 0), kept in registers: its node, how
        // many items it has so far, whether it is an object.
        let mut depth = 0usize;
        let mut cur = Open {
            node: 0,
            count: 0,
            object: false,
        };
        // The next value starts at `pos` with byte `c` (whitespace skipped).
        let (mut pos, mut c) = next_byte(b, 0)?;
        'value: loop {
            match c {
                b'"' | b'-' | b'0'..=b'9' if cur.object => {
                    // A run of scalar members, in a loop with few live values.
                    let run = self.member_run(pos, c)?;
                    cur.count += run.members;
                    pos = run.pos;
                    if let Some(next) = run.value {
                        c = next;
                        continue 'value;
                    }
                }
                b'"' => pos = self.string(pos)?,
                b'-' | b'0'..=b'9' => pos = self.number(pos)?,
                b'{' | b'[' => {
                    if depth >= self.limits.hard_depth {
                        return Err(too_deep());
                    }
                    if depth > 0 {
                        self.stack.push(cur);
                    }
                    depth += 1;
                    deepest = deepest.max(depth);
                    let object = c == b'{';
                    cur = Open {
                        node: self.nodes.len() as u32,
                        count: 0,
                        object,
                    };
                    push(self.nodes, if object { OBJECT } else { ARRAY }, 0, 0, 0);
                    (pos, c) = next_byte(b, pos + 1)?;
                    if c == if object { b'}' } else { b']' } {
                        pos += 1;
                        self.close(&mut cur, &mut depth);
                    } else if object {
                        // The first member, fused when it is plain, then the run after it.
                        match self.fused_member(pos) {
                            Some(Fused::Member(end)) => {
                                let run = self.members_after(end)?;
                                cur.count += run.members;
                                pos = run.pos;
                                if let Some(next) = run.value {
                                    c = next;
                                    continue 'value;
                                }
                            }
                            Some(Fused::Key(next)) => {
                                (pos, c) = next;
                                continue 'value;
                            }
                            None => {
                                (pos, c) = self.key(pos)?;
                                continue 'value;
                            }
                        }
                    } else {
                        continue 'value;
                    }
                }
                b't' => pos = self.literal(pos, b"true", TRUE)?,
                b'f' => pos = self.literal(pos, b"false", FALSE)?,
                b'n' => pos = self.literal(pos, b"null", NULL)?,
                _ => return Err(err_at(pos, "invalid character")),
            }
            // A value is complete: count it in its container, closing containers as they end.
            loop {
                if depth == 0 {
                    skip_ws!(b, pos);
                    if pos != b.len() {
                        return Err(err_at(pos, "trailing characters"));
                    }
                    return Ok(deepest);
                }
                cur.count += 1;
                (pos, c) = next_byte(b, pos)?;
                if c == b',' {
                    if cur.object {
                        // Compact JSON: the next key's quote right after the comma.
                        (pos, c) = match self.short_key(pos + 1) {
                            Some(next) => next,
                            None => self.next_key(pos + 1)?,
                        };
                    } else {
                        (pos, c) = next_byte(b, pos + 1)?;
                        if c == b']' {
                            return Err(err_at(pos, "trailing comma in array"));
                        }
                    }
                    continue 'value;
                }
                if c == if cur.object { b'}' } else { b']' } {
                    pos += 1;
                    self.close(&mut cur, &mut depth);
                    continue;
                }
                return Err(if cur.object {
                    err_at(pos, "expected ',' or '}'")
                } else {
                    err_at(pos, "expected ',' or ']'")
                });
            }
        }
    }

    /// Object members from the scalar value (a string or a number, first byte `c`) at `pos`
    /// on, while they are compact: each value, then a comma and a [`Parser::short_key`] whose
    /// value is a string or a number again. It stops after a value (`value` None: the position
    /// after it, where the caller's after-value loop takes over and counts it) or at a value of
    /// another kind after a key (`value`: its first byte at `pos`); `members` counts the values
    /// followed by a key.
    #[inline(never)]
    fn member_run(&mut self, pos: usize, c: u8) -> PResult<Run> {
        let pos = self.scalar(pos, c)?;
        self.members_after(pos)
    }

    /// The literal `word` at `pos`, as a node of `tag`; the position after it.
    #[inline(always)]
    fn literal(&mut self, pos: usize, word: &[u8], tag: u8) -> PResult<usize> {
        let end = literal(self.b, pos, word)?;
        push(self.nodes, tag, 0, 0, 0);
        Ok(end)
    }

    /// A string or a number (first byte `c`) at `pos`; the position after it.
    #[inline(always)]
    fn scalar(&mut self, pos: usize, c: u8) -> PResult<usize> {
        if c == b'"' {
            self.string(pos)
        } else {
            self.number(pos)
        }
    }

    /// [`Parser::member_run`] from the position after a value (not counted in `members`).
    #[inline(never)]
    fn members_after(&mut self, mut pos: usize) -> PResult<Run> {
        let b = self.b;
        let mut members = 0;
        loop {
            if b.get(pos) != Some(&b',') {
                return Ok(Run {
                    pos,
                    members,
                    value: None,
                });
            }
            let next = match self.fused_member(pos + 1) {
                Some(Fused::Member(end)) => {
                    members += 1;
                    pos = end;
                    continue;
                }
                Some(Fused::Key(next)) => Some(next),
                None => self.short_key(pos + 1),
            };
            let Some((next, c)) = next else {
                return Ok(Run {
                    pos,
                    members,
                    value: None,
                });
            };
            members += 1;
            pos = match c {
                b'"' | b'-' | b'0'..=b'9' => self.scalar(next, c)?,
                // Literals as the general loop reads them.
                b't' => self.literal(next, b"true", TRUE)?,
                b'f' => self.literal(next, b"false", FALSE)?,
                b'n' => self.literal(next, b"null", NULL)?,
                _ => {
                    return Ok(Run {
                        pos: next,
                        members,
                        value: Some(c),
                    })
                }
            };
        }
    }

    /// [`Parser::short_key`] and, when it is a plain string or number that ends within the same
    /// [`W`]-byte window, the value after it: both scanned from one mask, so the value's scan
    /// does not wait for the key's end (the member's latency is one load and mask, not two).
    /// `Member`: both nodes pushed, the position after the value; `Key`: the key's node pushed,
    /// the value's position and first byte (what `short_key` returns). None (nothing done):
    /// near the end of the text, a key of 16 bytes or more, or anything `short_key` would not
    /// take.
    #[inline(always)]
    fn fused_member(&mut self, pos: usize) -> Option<Fused> {
        if !FUSED {
            return None;
        }
        let b = self.b;
        // The key's quote and `W` bytes of text, in two 16-byte chunks.
        let w: &[u8; W + 1] = window(b, pos)?;
        let (&quote, text) = w.split_first()?;
        let (lo, hi) = text.split_first_chunk::<16>()?;
        let hi: &[u8; 16] = hi.try_into().ok()?;
        if quote != b'"' {
            return None;
        }
        // The stops of the window: the key's end, and the value's after it.
        let stops = u64::from(stop_mask(lo)) | u64::from(stop_mask(hi)) << 16;
        let len = stops.trailing_zeros() as usize;
        if len >= 16 || text[len] != b'"' || text[len + 1] != b':' || text[len + 2] <= b' ' {
            return None;
        }
        let c = text[len + 2];
        let word = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&lo[at..at + 8]);
            u64::from_le_bytes(x)
        };
        let (head, tail) = KEEP[len & 15];
        let (head, tail) = (word(0) & head, word(8) & tail);
        let start = pos + 1;
        let key = Node {
            tag: STR,
            flags: 0,
            id: self.keys.find(head, tail, len, &[]),
            a: start as u32,
            b: len as u32,
        };
        if c == b'"' {
            // The value's text starts at `len + 3`; its first stop, if in the window, ends it
            // when it is its closing quote.
            let v = len + 3;
            let rest = stops >> v;
            if rest != 0 {
                let n = rest.trailing_zeros() as usize;
                if text.get(v + n) == Some(&b'"') {
                    let value = Node {
                        tag: STR,
                        flags: 0,
                        id: 0,
                        a: (start + v) as u32,
                        b: n as u32,
                    };
                    push2(self.nodes, key, value);
                    return Some(Fused::Member(start + v + n + 1));
                }
            }
        }
        if c == b'-' || c.is_ascii_digit() {
            // A plain number that ends within the window: `-?(0|[1-9][0-9]*)(\.[0-9]+)?` and
            // then a byte that is none of a digit, `.`, `e`, `E` (exponents, longer integers and
            // every error go the general way). Non-digits from the mask, with a stop bit at W.
            let digits = u64::from(digit_mask(lo)) | u64::from(digit_mask(hi)) << 16;
            let other = !digits | 1 << W;
            let s = len + 2;
            let p = s + usize::from(c == b'-');
            let mut e = ((other >> p).trailing_zeros() as usize) + p;
            let first = text.get(p).copied().unwrap_or(0);
            if e > p && (first != b'0' || e == p + 1) && e < W {
                let mut tag = INT;
                if text[e] == b'.' {
                    let f = ((other >> (e + 1)).trailing_zeros() as usize) + e + 1;
                    if f > e + 1 && f < W {
                        tag = FLOAT;
                        e = f;
                    } else {
                        e = usize::MAX;
                    }
                }
                if e < W && !matches!(text[e], b'e' | b'E') && (tag == FLOAT || e - s <= 19) {
                    let value = Node {
                        tag,
                        flags: 0,
                        id: 0,
                        a: (start + s) as u32,
                        b: (e - s) as u32,
                    };
                    push2(self.nodes, key, value);
                    return Some(Fused::Member(start + e));
                }
            }
        }
        self.nodes.push(key);
        Some(Fused::Key((start + len + 2, c)))
    }

    /// Close the innermost container `cur` at the current node count; its parent (if any)
    /// becomes `cur`.
    #[inline(always)]
    fn close(&mut self, cur: &mut Open, depth: &mut usize) {
        let end = self.nodes.len() as u32;
        if let Some(n) = self.nodes.get_mut(cur.node as usize) {
            n.a = end;
            n.b = cur.count;
        }
        if cur.object && cur.count > INDEX_MIN_MEMBERS {
            self.index_object(cur.node, end);
        }
        *depth -= 1;
        if let Some(parent) = self.stack.pop() {
            *cur = parent;
        }
    }

    /// Index the members of a large object (one pass and a sort: no lookup in it is linear).
    #[cold]
    #[inline(never)]
    fn index_object(&mut self, obj: u32, end: u32) {
        // Only nodes are read (no text).
        let doc = Doc {
            text: "",
            nodes: self.nodes,
            arena: self.arena,
            index: &[],
        };
        let mut entries: Vec<(u32, u32)> = Vec::new();
        let mut i = obj + 1;
        while i < end {
            let id = doc.node(i).id;
            if id != 0 {
                entries.push((id, i + 1));
            }
            i = doc.next(i + 1);
        }
        // Later members first, then a stable sort: the first of each id is its last duplicate.
        entries.reverse();
        entries.sort_by_key(|&(id, _)| id);
        entries.dedup_by_key(|&mut (id, _)| id);
        let at = self.index.len();
        self.index.push((entries.len() as u32, 0));
        self.index.extend_from_slice(&entries);
        if let Some(n) = self.nodes.get_mut(obj as usize) {
            n.id = at as u32 + 1;
        }
    }

    /// A key after a comma, at `pos` or after whitespace (so not `}`): see [`Parser::key`].
    #[inline(never)]
    fn next_key(&mut self, pos: usize) -> PResult<(usize, u8)> {
        let (pos, c) = next_byte(self.b, pos)?;
        if c == b'}' {
            return Err(err_at(pos, "trailing comma in object"));
        }
        self.key(pos)
    }

    /// `"key" :` at `pos` (whitespace already skipped): a key node with its id; the position
    /// and the first byte of the value after the colon.
    #[inline(always)]
    fn key(&mut self, pos: usize) -> PResult<(usize, u8)> {
        match self.short_key(pos) {
            Some(next) => Ok(next),
            None => self.any_key(pos),
        }
    }

    /// The common key, `"plain text":` followed by a value (no whitespace), at `pos`: its node
    /// and the position and first byte of the value. The key's words come from the scan: at
    /// most 16 bytes need no other read, a longer one is scanned on. None (nothing done) for
    /// anything else, or fewer than 20 bytes left: [`Parser::any_key`] takes it.
    #[inline(always)]
    fn short_key(&mut self, pos: usize) -> Option<(usize, u8)> {
        let b = self.b;
        // The quote, 16 key bytes, the closing quote, the colon and the value's first byte.
        let chunk: &[u8; 20] = window(b, pos)?;
        if chunk[0] != b'"' {
            return None;
        }
        let text: &[u8; 16] = chunk[1..17].try_into().ok()?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&text[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let start = pos + 1;
        // A non-ASCII byte ends the key too (then `any_key` takes it, and checks its UTF-8).
        let len = first_stop_utf8(text);
        if len == 16 {
            return self.long_plain_key(start, word(0), word(8));
        }
        // The words of the key's bytes, zeroed from the stop on.
        let (head, tail) = KEEP[len & 15];
        let (head, tail) = (word(0) & head, word(8) & tail);
        // The closing quote, the colon and the value (positions at most 17, 18, 19).
        if chunk[1 + len] != b'"' || chunk[2 + len] != b':' || chunk[3 + len] <= b' ' {
            return None;
        }
        self.nodes.push(Node {
            tag: STR,
            flags: 0,
            id: self.keys.find(head, tail, len, &[]),
            a: start as u32,
            b: len as u32,
        });
        Some((start + len + 2, chunk[3 + len]))
    }

    /// [`Parser::short_key`] for a key over 16 bytes, whose words are `head` and `tail`: one
    /// more window for a key of up to 31 bytes (its end, the closing quote, the colon and the
    /// value's first byte). None (nothing done) for anything else: [`Parser::any_key`] takes it.
    #[inline(never)]
    fn long_plain_key(&mut self, start: usize, head: u64, tail: u64) -> Option<(usize, u8)> {
        let b = self.b;
        let chunk: &[u8; 19] = window(b, start + 16)?;
        let text: &[u8; 16] = chunk[..16].try_into().ok()?;
        let n = first_stop_utf8(text);
        if n == 16 || chunk[n] != b'"' || chunk[n + 1] != b':' || chunk[n + 2] <= b' ' {
            return None;
        }
        let len = 16 + n;
        let key = b.get(start..start + len)?;
        self.nodes.push(Node {
            tag: STR,
            flags: 0,
            id: self.keys.find(head, tail, len, key),
            a: start as u32,
            b: len as u32,
        });
        Some((start + len + 2, chunk[n + 2]))
    }

    /// Any key at `pos` (see [`Parser::key`]), with every error.
    #[inline(never)]
    fn any_key(&mut self, pos: usize) -> PResult<(usize, u8)> {
        let b = self.b;
        match b.get(pos) {
            Some(b'"') => {}
            None => return Err(truncated()),
            Some(_) => return Err(err_at(pos, "object keys must be strings")),
        }
        let mut pos = self.string(pos)?;
        if let Some(node) = self.nodes.last_mut() {
            let src: &[u8] = if node.flags & ESCAPED != 0 {
                self.arena.as_bytes()
            } else {
                b
            };
            let k = src
                .get(node.a as usize..node.a as usize + node.b as usize)
                .unwrap_or_default();
            node.id = self.keys.lookup_bytes(k);
        }
        skip_ws!(b, pos);
        match b.get(pos) {
            Some(b':') => next_byte(b, pos + 1),
            None => Err(truncated()),
            Some(_) => Err(err_at(pos, "expected ':'")),
        }
    }

    #[inline(always)]
    fn number(&mut self, mut pos: usize) -> PResult<usize> {
        let b = self.b;
        let start = pos;
        let negative = b.get(pos) == Some(&b'-');
        if negative {
            pos += 1;
            if pos == b.len() {
                return Err(err_at(pos, "invalid number"));
            }
        }
        match b.get(pos) {
            Some(b'0') => {
                pos += 1;
                if b.get(pos).is_some_and(u8::is_ascii_digit) {
                    return Err(err_at(pos, "invalid number"));
                }
            }
            Some(b'1'..=b'9') => pos = digits(b, pos + 1),
            _ => return Err(err_at(pos, "invalid character")),
        }
        let int_digits = pos - start - usize::from(negative);
        let mut is_float = false;
        if b.get(pos) == Some(&b'.') {
            is_float = true;
            let end = digits(b, pos + 1);
            if end == pos + 1 {
                return Err(err_at(end, "invalid number"));
            }
            pos = end;
        }
        if matches!(b.get(pos), Some(b'e' | b'E')) {
            is_float = true;
            pos += 1;
            if matches!(b.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            let end = digits(b, pos);
            if end == pos {
                return Err(err_at(end, "invalid number"));
            }
            pos = end;
        }
        let len = pos - start;
        if is_float {
            push(self.nodes, FLOAT, 0, start, len);
            return Ok(pos);
        }
        // msgspec hands integers that do not fit 64 bits to CPython's int(): over 4300
        // characters, or over sys.get_int_max_str_digits() digits, is "out of range".
        if len > 19 {
            let limit = self.limits.int_max_str_digits;
            if len > MAX_INT_LITERAL || (limit > 0 && int_digits > limit) {
                return Err(int_out_of_range());
            }
        }
        push(self.nodes, INT, 0, start, len);
        Ok(pos)
    }

    /// A string at `pos` (its opening quote): a span of the input, or of the arena when it
    /// has escapes; the position after the closing quote.
    #[inline(always)]
    fn string(&mut self, pos: usize) -> PResult<usize> {
        let start = pos + 1;
        match scan_string(self.b, start) {
            (end, Some(b'"')) => {
                push(self.nodes, STR, 0, start, end - start);
                Ok(end + 1)
            }
            (end, Some(b'\\')) => {
                let (at, len, end) = escaped_string(self.b, start, end, self.arena)?;
                push(self.nodes, STR, ESCAPED, at, len);
                Ok(end)
            }
            (_, None) => Err(truncated()),
            // scan_string stops only at a quote, a backslash or a control character.
            (end, Some(_)) => Err(err_at(end, "invalid character")),
        }
    }
}

/// The first byte at or after `pos` that is not whitespace, with its position.
#[inline(always)]
fn next_byte(b: &[u8], pos: usize) -> PResult<(usize, u8)> {
    match b.get(pos) {
        Some(&c) if c > b' ' => Ok((pos, c)),
        _ => {
            let pos = ws(b, pos);
            match b.get(pos) {
                Some(&c) => Ok((pos, c)),
                None => Err(truncated()),
            }
        }
    }
}

/// The rest of a string with escapes (`pos` at the first backslash), into the arena: (arena
/// offset, length, the position after the closing quote).
#[cold]
#[inline(never)]
fn escaped_string(
    b: &[u8],
    start: usize,
    mut pos: usize,
    arena: &mut String,
) -> PResult<(usize, usize, usize)> {
    let at = arena.len();
    arena.push_str(utf8_run(b, start, pos)?);
    loop {
        match b.get(pos) {
            None => return Err(truncated()),
            Some(b'"') => return Ok((at, arena.len() - at, pos + 1)),
            Some(b'\\') => {
                pos += 1;
                pos = escape(b, pos, arena)?;
            }
            Some(&c) if c < 0x20 => return Err(err_at(pos, "invalid character")),
            Some(_) => {
                // Copy a run of plain characters at once.
                let run = pos;
                pos = scan_plain(b, pos);
                arena.push_str(utf8_run(b, run, pos)?);
            }
        }
    }
}

/// The plain string content `b[start..end]` as text (an error if it is not UTF-8).
fn utf8_run(b: &[u8], start: usize, end: usize) -> PResult<&str> {
    std::str::from_utf8(b.get(start..end).unwrap_or_default())
        .map_err(|_| err_at(start, "invalid character"))
}

/// [`escape`] for the tree parser ([`crate::json`]): the same escapes, errors and positions.
pub(crate) fn unescape_one(b: &[u8], pos: usize, out: &mut String) -> Result<usize, JsonError> {
    escape(b, pos, out).map_err(|e| *e.0)
}

/// One escape after its backslash, appended to the arena; the position after it.
fn escape(b: &[u8], mut pos: usize, out: &mut String) -> PResult<usize> {
    let Some(&c) = b.get(pos) else {
        return Err(truncated());
    };
    pos += 1;
    match c {
        b'"' => out.push('"'),
        b'\\' => out.push('\\'),
        b'/' => out.push('/'),
        b'b' => out.push('\u{8}'),
        b'f' => out.push('\u{c}'),
        b'n' => out.push('\n'),
        b'r' => out.push('\r'),
        b't' => out.push('\t'),
        b'u' => {
            let cp = hex4(b, &mut pos)?;
            let ch = if (0xd800..0xdc00).contains(&cp) {
                // A high surrogate must be followed by \u and a low surrogate.
                if b.len() - pos < 6 {
                    return Err(truncated());
                }
                if b.get(pos) != Some(&b'\\') || b.get(pos + 1) != Some(&b'u') {
                    return Err(err_at(pos + 1, "invalid escape character in string"));
                }
                pos += 2;
                let lo = hex4(b, &mut pos)?;
                if !(0xdc00..0xe000).contains(&lo) {
                    return Err(err_at(pos, "invalid utf-16 surrogate pair"));
                }
                char::from_u32(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00))
            } else if (0xdc00..0xe000).contains(&cp) {
                return Err(err_at(pos, "invalid utf-16 surrogate pair"));
            } else {
                char::from_u32(cp)
            };
            match ch {
                Some(ch) => out.push(ch),
                None => return Err(err_at(pos, "invalid utf-16 surrogate pair")),
            }
        }
        _ => return Err(err_at(pos, "invalid escape character in string")),
    }
    Ok(pos)
}

fn hex4(b: &[u8], pos: &mut usize) -> PResult<u32> {
    if b.len() - *pos < 4 {
        return Err(truncated());
    }
    let mut cp = 0u32;
    for _ in 0..4 {
        let c = b.get(*pos).copied().unwrap_or(0);
        *pos += 1;
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(err_at(*pos, "invalid character in unicode escape")),
        };
        cp = (cp << 4) | u32::from(d);
    }
    Ok(cp)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The `N` bytes at `pos` (two comparisons, no overflow check).
#[inline(always)]
fn window<const N: usize>(b: &[u8], pos: usize) -> Option<&[u8; N]> {
    b.get(pos..)?.first_chunk::<N>()
}

/// For a key of `n` (< 16) bytes: the masks of its bytes in the (head, tail) words.
const KEEP: [(u64, u64); 16] = {
    let mut t = [(0, 0); 16];
    let mut n = 0;
    while n < 16 {
        t[n] = if n < 8 {
            ((1 << (8 * n)) - 1, 0)
        } else {
            (u64::MAX, (1 << (8 * (n - 8))) - 1)
        };
        n += 1;
    }
    t
};

/// The index of the first byte of `chunk` that ends a plain run of string content (a quote, a
/// backslash or a control character), or 16 if there is none.
#[inline(always)]
fn first_stop(chunk: &[u8; 16]) -> usize {
    first_stop_in::<false>(chunk)
}

/// [`first_stop`] that also stops at non-ASCII bytes (the tape's scans, which check UTF-8).
#[inline(always)]
fn first_stop_utf8(chunk: &[u8; 16]) -> usize {
    first_stop_in::<true>(chunk)
}

#[inline(always)]
fn first_stop_in<const NON_ASCII: bool>(chunk: &[u8; 16]) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `stops_sse2` needs only SSE2, which this cfg proves the target has.
        let mask = unsafe { stops_sse2::<NON_ASCII>(chunk) };
        (mask | 1 << 16).trailing_zeros() as usize
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    first_stop_swar::<NON_ASCII>(chunk)
}

/// The stop bytes of `chunk` (see [`first_stop_in`]) as a 16-bit mask, 16 bytes in one go.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[target_feature(enable = "sse2")]
fn stops_sse2<const NON_ASCII: bool>(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: `chunk` is 16 readable bytes, and `_mm_loadu_si128` has no alignment
    // requirement. (Built from two words, LLVM loaded the chunk three times.)
    let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
    // `x ^ 2` maps the quote (0x22) to 0x20 and the control characters onto themselves (and
    // keeps the high bit), so one "at most 0x20" test finds both: unsigned, or signed to take
    // the non-ASCII bytes (negative) too.
    let q = _mm_xor_si128(v, _mm_set1_epi8(2));
    let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
    let stops = if NON_ASCII {
        _mm_or_si128(_mm_cmplt_epi8(q, _mm_set1_epi8(0x21)), backslash)
    } else {
        let quote_or_control = _mm_cmpeq_epi8(_mm_min_epu8(q, _mm_set1_epi8(0x20)), q);
        _mm_or_si128(quote_or_control, backslash)
    };
    _mm_movemask_epi8(stops) as u32
}

/// The bytes of `chunk` that [`first_stop_utf8`] stops at (a quote, a backslash, a control
/// character or a non-ASCII byte), as a 16-bit mask: every one, not only the first.
#[inline(always)]
fn stop_mask(chunk: &[u8; 16]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `stops_sse2` needs only SSE2, which this cfg proves the target has.
        unsafe { stops_sse2::<true>(chunk) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        // Unused there (`FUSED` is false), but exact.
        let mut m = 0;
        for (i, &c) in chunk.iter().enumerate() {
            if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
                m |= 1 << i;
            }
        }
        m
    }
}

/// The ASCII digits of `chunk` as a 16-bit mask.
#[inline(always)]
fn digit_mask(chunk: &[u8; 16]) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `digits_sse2` needs only SSE2, which this cfg proves the target has.
        unsafe { digits_sse2(chunk) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        // Unused there (`FUSED` is false), but exact.
        let mut m = 0;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_digit() {
                m |= 1 << i;
            }
        }
        m
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
#[target_feature(enable = "sse2")]
fn digits_sse2(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: `chunk` is 16 readable bytes, and `_mm_loadu_si128` has no alignment requirement.
    let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
    // A digit is at most 9 after subtracting '0' (unsigned; the rest wrap above it).
    let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
    let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    _mm_movemask_epi8(digit) as u32
}

/// [`first_stop`] in plain integer code (targets without SSE2, and the tests).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn first_stop_swar<const NON_ASCII: bool>(chunk: &[u8; 16]) -> usize {
    let (lo, hi) = chunk.split_at(8);
    let word = |w: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let w = u64::from_le_bytes(a);
        // A non-ASCII byte's own high bit.
        specials(w) | if NON_ASCII { w & HIGH } else { 0 }
    };
    match (word(lo), word(hi)) {
        (0, 0) => 16,
        (0, h) => 8 + (h.trailing_zeros() / 8) as usize,
        (l, _) => (l.trailing_zeros() / 8) as usize,
    }
}

/// The bytes of `w` that end a plain run of string content (a quote, a backslash or a control
/// character) flagged by their high bit; the lowest flag is exact (later ones may be false
/// positives), so `trailing_zeros() / 8` is the first such byte.
#[inline(always)]
fn specials(w: u64) -> u64 {
    // As in `stops_sse2`: one "less than 0x21" test on `x ^ 2` finds quotes and control
    // characters; the backslash is a "zero byte" test.
    let q = w ^ (ONES * 0x02);
    let s = w ^ (ONES * u64::from(b'\\'));
    ((q.wrapping_sub(ONES * 0x21) & !q) | (s.wrapping_sub(ONES) & !s)) & HIGH
}

/// The index of the first byte at or after `pos` that is not an ASCII digit (eight at a time).
#[inline(always)]
fn digits(b: &[u8], mut pos: usize) -> usize {
    while let Some(chunk) = window::<8>(b, pos) {
        let w = u64::from_le_bytes(*chunk);
        // A digit has high nibble 3, and adding 6 keeps it 3 (a carry out of a non-digit only
        // spoils the bytes after it): each digit byte becomes 0x33.
        let nib = ONES * 0xf0;
        let t = ((w & nib) | ((w.wrapping_add(ONES * 6) & nib) >> 4)) ^ (ONES * 0x33);
        if t != 0 {
            return pos + (t.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while b.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

fn literal(b: &[u8], pos: usize, word: &[u8]) -> PResult<usize> {
    let end = pos + word.len();
    match b.get(pos..end) {
        Some(s) if s == word => Ok(end),
        Some(_) => Err(err_at(pos, "invalid character")),
        None => {
            // A prefix of the word up to the end is a truncation, anything else is bad.
            let rest = b.get(pos..).unwrap_or_default();
            if word.starts_with(rest) {
                Err(truncated())
            } else {
                Err(err_at(pos, "invalid character"))
            }
        }
    }
}

/// [`scan_plain`] for the tape: the index of the first quote, backslash or control character
/// at or after `i`, and that byte (None: the text ends first), with the UTF-8 of the non-ASCII
/// bytes on the way checked: at a non-ASCII byte that does not start valid UTF-8 text up to the
/// next stop, that position and byte.
#[inline(always)]
fn scan_string(b: &[u8], mut i: usize) -> (usize, Option<u8>) {
    loop {
        let c = loop {
            let Some(chunk) = window::<16>(b, i) else {
                i = scan_tail(b, i);
                break b.get(i).copied();
            };
            let n = first_stop_utf8(chunk);
            if n < 16 {
                i += n;
                break chunk.get(n).copied();
            }
            i += 16;
        };
        match c {
            Some(c) if c >= 0x80 => match non_ascii(b, i) {
                Some(end) => i = end,
                None => return (i, Some(c)),
            },
            _ => return (i, c),
        }
    }
}

/// [`scan_string`]'s last (under 16) bytes: the first stop or non-ASCII byte at or after `i`.
#[inline(never)]
fn scan_tail(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
            break;
        }
        i += 1;
    }
    i
}

/// At a non-ASCII byte `b[i]` of a string: the end of the run from there to the next quote,
/// backslash or control byte (or the end of the text) if the run is UTF-8, else None.
#[cold]
#[inline(never)]
fn non_ascii(b: &[u8], i: usize) -> Option<usize> {
    let end = scan_plain(b, i);
    std::str::from_utf8(b.get(i..end)?).ok()?;
    Some(end)
}

/// The index of the first byte at or after `i` that ends a plain run of string content: a quote,
/// a backslash or a control character (sixteen bytes at a time).
#[inline(always)]
pub(crate) fn scan_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = window::<16>(b, i) {
        let n = first_stop(chunk);
        if n < 16 {
            return i + n;
        }
        i += 16;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn both(text: &str, limits: ParseLimits, keys: Option<&KeyTable>) {
        let tree = json::parse(text, limits, keys);
        let mut tape = Tape::default();
        let ours = tape.parse(text, limits, keys);
        match (&tree, &ours) {
            (Ok(v), Ok(())) => {
                let doc = tape.doc(text);
                assert_eq!(&doc.to_value(0), v, "{text:?}");
                assert_eq!(doc.next(0) as usize, doc.nodes.len());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{text:?}"),
            _ => panic!("{text:?}: tree {tree:?} vs tape {ours:?}"),
        }
    }

    #[test]
    fn agrees_with_the_tree_parser() {
        let mut keys = KeyTable::default();
        for k in [
            "a",
            "topic",
            "data",
            "s",
            "positions",
            "exactly_sixteen_",
            "a_rather_long_key_name",
            "thirty_one_bytes_long_key_name_",
            "thirty_two_bytes_long_key_name__",
        ] {
            keys.intern(k);
        }
        let limits = ParseLimits {
            max_depth: 4,
            hard_depth: 12,
            int_max_str_digits: 4300,
        };
        let seeds = [
            r#"{"topic":"position","ts":1,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"-0.5","a":[1,2.5e3,true,false,null,{}],"a":"\u00e9\ud83d\ude00\n"}]}}"#,
            r#"[1, -0, 0.5, "x\"y", {"a" : {"b":[[]]}}, [], {}]"#,
            r#"{"a":[[[[[1]]]]],"a":1}"#,
            r#"  "a\/b"  "#,
            r#"{"a_rather_long_key_name":1,"exactly_sixteen_":2,"thirty_one_bytes_long_key_name_":[3],"thirty_two_bytes_long_key_name__":{"a":1},"a_rather_long_key_name": 4,"a_rather_long_key_nam":5}"#,
        ];
        let alphabet = b"{}[]\",:0123456789.eE+-tfnul \\u\x01\t";
        let mut rng = crate::testutil::Rng::new();
        for seed in seeds {
            for lim in [limits, ParseLimits::default()] {
                both(seed, lim, Some(&keys));
                both(seed, lim, None);
            }
            for _ in 0..20_000 {
                let buf = crate::testutil::mutate(seed.as_bytes(), 4, alphabet, &mut rng);
                if let Ok(t) = std::str::from_utf8(&buf) {
                    both(t, limits, Some(&keys));
                }
            }
        }
        for text in [
            "",
            "[1,]",
            "01",
            "1.",
            "-",
            "\"abc",
            "tru",
            "nul",
            "[1 2]",
            "{\"a\"}",
            "{1:2}",
            "\"\\ud800\"",
            "\"\\u12G4\"",
            "[[[[[[[[[[[[[1]]]]]]]]]]]]]",
        ] {
            both(text, limits, None);
        }
        both(&"1".repeat(4301), limits, None);
        both(&"1".repeat(4300), limits, None);
    }

    /// `Tape::parse_utf8` against `str::from_utf8` and the tree parser: the same text, values
    /// and errors (the UTF-8 error first, wherever the bytes are bad).
    fn utf8_both(buf: &[u8], keys: &KeyTable) {
        let limits = ParseLimits {
            max_depth: 4,
            hard_depth: 12,
            int_max_str_digits: 4300,
        };
        let want = match std::str::from_utf8(buf) {
            Err(e) => Err(utf8_error(buf, &e)),
            Ok(t) => json::parse(t, limits, Some(keys)),
        };
        let mut tape = Tape::default();
        let ours = tape.parse_utf8(buf, limits, Some(keys));
        match (&want, &ours) {
            (Ok(v), Ok(text)) => {
                assert_eq!(text.as_bytes(), buf);
                assert_eq!(&tape.doc(text).to_value(0), v, "{buf:?}");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{buf:?}"),
            _ => panic!("{buf:?}: want {want:?}, got {ours:?}"),
        }
    }

    #[test]
    fn parse_utf8_agrees_with_from_utf8() {
        let mut keys = KeyTable::default();
        for k in ["a", "topic", "a_rather_long_key_name", "\u{e9}t\u{e9}"] {
            keys.intern(k);
        }
        // Bad: overlong, surrogates, over U+10FFFF, lone continuation, truncated, bad starts.
        let bad: [&[u8]; 14] = [
            b"\xc0\x80",
            b"\xc1\xbf",
            b"\xe0\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xed\xa0\x80",
            b"\xed\xbf\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\x80",
            b"\xbf",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xf5\x80\x80\x80",
            b"\xff",
        ];
        let good: [&[u8]; 6] = [
            b"\xc3\xa9",
            b"\xc2\x80",
            b"\xe2\x82\xac",
            b"\xed\x9f\xbf",
            b"\xef\xbf\xbf",
            b"\xf0\x9f\x98\x80",
        ];
        // Templates: `@` is where a sequence goes.
        let templates: [&[u8]; 16] = [
            b"{\"@\":1}",
            b"{\"a@\":1}",
            b"{\"a_rather_long_key_name@\":1}",
            b"{\"a_rather_long_key_name_that_goes_on@x\":1}",
            b"{\"a\":\"@\"}",
            b"{\"a\":\"0123456789abcdefghij@klmnopqrstuvwxyz\"}",
            b"{\"a\":\"x\\n@\"}",
            b"{\"a\":\"@\\u00e9\"}",
            b"{\"\\t@\":[1,\"y@\"]}",
            b"{\"a\":1}@",
            b"{\"a\":@1}",
            b"[1,2,@]",
            b"{\"a\":[1,2}, \"b\":\"@\"}",
            b"{\"a\":\"@",
            b"\"@",
            b"[[[[[[[[[[[[[[\"@\"]]]]]]]]]]]]]]",
        ];
        for t in templates {
            let at = t.iter().position(|&c| c == b'@').unwrap_or(0);
            for seq in bad.iter().chain(good.iter()) {
                for reps in 1..3 {
                    let mut buf = t[..at].to_vec();
                    for _ in 0..reps {
                        buf.extend_from_slice(seq);
                    }
                    buf.extend_from_slice(&t[at + 1..]);
                    utf8_both(&buf, &keys);
                    // And at the end of the text (a truncated document).
                    utf8_both(&buf[..at + seq.len()], &keys);
                    // Padded, so the sequence falls in a 16-byte window, or across two.
                    for pad in [1, 7, 13, 15, 16, 17] {
                        let mut p = t[..at].to_vec();
                        if t.get(at.wrapping_sub(1)) == Some(&b'"') {
                            p.extend(std::iter::repeat_n(b'z', pad));
                        }
                        p.extend_from_slice(seq);
                        p.extend_from_slice(&t[at + 1..]);
                        utf8_both(&p, &keys);
                    }
                }
            }
        }
        // Random edits of a frame with non-ASCII text.
        let seed = "{\"topic\":\"pos\u{e9}\",\"a\":[\"\u{1f600}x\\u00e9\u{20ac}\",1.5],\"\u{e9}t\u{e9}\":\"\u{4e2d}\u{6587}\"}".as_bytes();
        let alphabet = b"\"\\{}[],:1u\x80\xbf\xc0\xc3\xa9\xe2\xed\xa0\xf0\xf4\x9f\xff";
        let mut rng = crate::testutil::Rng::new();
        for _ in 0..50_000 {
            let buf = crate::testutil::mutate(seed, 3, alphabet, &mut rng);
            utf8_both(&buf, &keys);
        }
    }

    /// The member fast paths (`member_run`, `fused_member`) on the edges of their windows:
    /// keys and values of every length around 16 and 32 bytes, escapes, non-ASCII and control
    /// bytes, numbers of every shape, all near and at the end of the text.
    #[test]
    fn member_runs_agree_with_the_tree_parser() {
        let mut keys = KeyTable::default();
        for k in ["a", "bb", "k012345678901234", "k01234567890123", "k0123456"] {
            keys.intern(k);
        }
        let limits = ParseLimits::default();
        let values = [
            r#""""#,
            r#""x""#,
            r#""0.0002""#,
            "1",
            "0",
            "-1",
            "-",
            "01",
            "-0",
            "1.5",
            "1.",
            "1e5",
            "-0.25e-3",
            "0.1e",
            "1.e3",
            "-01",
            "12345678901234567890",
            "1234567890123456789",
            "123456789012345678901234567890",
            "true",
            "null",
            "false",
            "tru",
            "nul",
            "fals",
            "trUe",
            "[]",
            "{}",
            r#"[1,"a"]"#,
            r#"{"a":1}"#,
            r#""a\nb""#,
            r#""\u00e9""#,
            "\"\u{e9}\"",
            "\"a\tb\"",
            r#""PERP_BTC_USDT""#,
            r#""exactly_sixteen_""#,
            r#""twenty_nine_bytes_long_value""#,
            r#""thirty_two_bytes_long_value_____""#,
            r#""abc"#,
            "1 ",
            " 1",
            "\"\u{20ac}\u{20ac}\"",
            "\"\u{1}\"",
            r#""a\"b""#,
        ];
        let names = [
            "a",
            "bb",
            "k012345678901234",
            "k01234567890123",
            "k0123456",
            "zz",
            "\u{e9}",
            r"a\n",
            "\u{7f}",
        ];
        let mut texts = Vec::new();
        for v in values {
            for k in names {
                for (i, w) in values.iter().enumerate().step_by(3) {
                    let members = format!("\"{k}\":{v},\"a\":{w},\"{k}\":{v}");
                    texts.push(format!("{{\"bb\":0,{members}}}"));
                    texts.push(format!("[{{\"bb\":\"x\",{members},\"a\":{i}}}]"));
                    texts.push(format!("{{\"bb\":{v},\"{k}\":{w}}}"));
                }
            }
        }
        for t in &texts {
            for len in (t.len().saturating_sub(40)..=t.len()).rev() {
                if let Some(cut) = t.get(..len) {
                    both(cut, limits, Some(&keys));
                }
            }
            both(t, limits, None);
        }
    }

    #[test]
    fn stop_mask_agrees_with_bytes() {
        // Every byte value at every position.
        for c in 0..=255u8 {
            for i in 0..16 {
                let mut chunk = [b'a'; 16];
                chunk[i] = c;
                let stop = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
                assert_eq!(stop_mask(&chunk), u32::from(stop) << i, "{c:#x} at {i}");
                assert_eq!(first_stop_utf8(&chunk), if stop { i } else { 16 });
                let plain = c == b'"' || c == b'\\' || c < 0x20;
                assert_eq!(first_stop(&chunk), if plain { i } else { 16 });
                assert_eq!(digit_mask(&chunk), u32::from(c.is_ascii_digit()) << i);
            }
        }
        let mut rng = crate::testutil::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"\"\\\x00\x01\x1f !#[\x7f\x80\xff\xde\x5cab\x21\x23\x20\x22/09:.";
        for _ in 0..100_000 {
            let chunk = random_chunk(&mut rng, alphabet, 6);
            let mut want = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
                    want |= 1 << i;
                }
            }
            assert_eq!(stop_mask(&chunk), want, "{chunk:?}");
            let mut want = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                if c.is_ascii_digit() {
                    want |= 1 << i;
                }
            }
            assert_eq!(digit_mask(&chunk), want, "{chunk:?}");
        }
    }

    /// A 16-byte window of `a`s with fewer than `max_edits` bytes of `alphabet` at random places.
    fn random_chunk(rng: &mut crate::testutil::Rng, alphabet: &[u8], max_edits: u64) -> [u8; 16] {
        let mut chunk = [b'a'; 16];
        for _ in 0..(rng.next() % max_edits) {
            let x = rng.next();
            chunk[(x >> 32) as usize % 16] = alphabet[(x >> 8) as usize % alphabet.len()];
        }
        chunk
    }

    #[test]
    fn first_stop_agrees_with_bytes() {
        let mut rng = crate::testutil::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"\"\\\x00\x01\x1f !#[\x7f\x80\xff\xde\x5cab\x21\x23\x20\x22";
        for _ in 0..200_000 {
            let chunk = random_chunk(&mut rng, alphabet, 4);
            let want = chunk
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(16);
            assert_eq!(first_stop(&chunk), want, "{chunk:?}");
            assert_eq!(first_stop_swar::<false>(&chunk), want, "{chunk:?}");
            let want = chunk
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
                .unwrap_or(16);
            assert_eq!(first_stop_utf8(&chunk), want, "{chunk:?}");
            assert_eq!(first_stop_swar::<true>(&chunk), want, "{chunk:?}");
        }
    }

    #[test]
    fn large_objects_are_indexed() {
        let mut keys = KeyTable::default();
        let a = keys.intern("a");
        let z = keys.intern("z");
        let mut text = String::from("{\"a\":1,");
        for i in 0..200 {
            text.push_str(&format!("\"k{i}\":{i},\"a\":{i},"));
        }
        text.push_str("\"z\":[],\"a\":\"last\"}");
        let mut tape = Tape::default();
        tape.parse(&text, ParseLimits::default(), Some(&keys))
            .unwrap();
        let doc = tape.doc(&text);
        assert!(doc.node(0).id != 0, "indexed");
        let v = doc.get(0, a, "a").unwrap();
        assert_eq!(doc.text(v), "last");
        assert_eq!(doc.get(0, z, "z").map(|v| doc.tag(v)), Some(ARRAY));
        assert_eq!(doc.get(0, 0, "k150").map(|v| doc.text(v)), Some("150"));
        assert_eq!(doc.get(0, 0, "nope"), None);
    }

    #[test]
    fn lookups_and_skips() {
        let mut keys = KeyTable::default();
        let a = keys.intern("a");
        let text = r#"{"a":1,"b":{"c":[1,{"d":2}]},"a":[3,4],"e":"x\ty"}"#;
        let mut tape = Tape::default();
        tape.parse(text, ParseLimits::default(), Some(&keys))
            .unwrap();
        let doc = tape.doc(text);
        let v = doc.get(0, a, "a").unwrap();
        assert_eq!(doc.tag(v), ARRAY);
        assert_eq!(doc.item(v, 1).map(|i| doc.text(i)), Some("4"));
        assert_eq!(doc.item(v, 2), None);
        let e = doc.get(0, 0, "e").unwrap();
        assert_eq!(doc.text(e), "x\ty");
        assert_eq!(doc.raw(e), None);
        assert_eq!(doc.get(0, 0, "zz"), None);
        assert_eq!(doc.dedup_members(0).len(), 3);
    }
}
