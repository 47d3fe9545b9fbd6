//! The structure-aware mutator of `mutate_frame`: it parses a frame's JSON text into a tree,
//! applies a few edits that keep it JSON (replace, retype, delete, duplicate keys, rename keys to
//! plan keys, grow arrays, nest, copy subtrees, edge-case numbers and strings), and writes it
//! back. Byte-level mutation (libFuzzer's own) is mixed in by the target.

use std::sync::OnceLock;

use _native::json::{self, ParseLimits, Value};
use _native::text;

/// A frame as a mutable tree; numbers keep their text, objects keep duplicate keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

/// Nesting the mutator parses (and lets a frame grow to); deeper texts get byte mutations only.
const MAX_TREE_DEPTH: usize = 200;

impl Node {
    pub fn parse(text: &[u8]) -> Option<Node> {
        let limits = ParseLimits {
            max_depth: MAX_TREE_DEPTH,
            hard_depth: MAX_TREE_DEPTH,
            int_max_str_digits: 0,
        };
        let v = json::parse_bytes(text, limits, None).ok()?;
        Some(Node::from_value(&v))
    }

    fn from_value(v: &Value<'_>) -> Node {
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Int(t) | Value::Float(t) => Node::Num(t.to_string()),
            Value::PyFloat(f) => Node::Num(format!("{f:?}")),
            Value::Str(s) => Node::Str(s.to_string()),
            Value::Array(items) => Node::Arr(items.iter().map(Node::from_value).collect()),
            Value::Object(m) => Node::Obj(
                m.iter()
                    .map(|m| (m.key.to_string(), Node::from_value(&m.value)))
                    .collect(),
            ),
        }
    }

    pub fn write(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Num(t) => out.push_str(t),
            Node::Str(s) => text::json_string(s, out),
            Node::Arr(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            Node::Obj(m) => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    text::json_string(k, out);
                    out.push(':');
                    x.write(out);
                }
                out.push('}');
            }
        }
    }

    fn count(&self) -> usize {
        1 + match self {
            Node::Arr(items) => items.iter().map(Node::count).sum(),
            Node::Obj(m) => m.iter().map(|(_, x)| x.count()).sum(),
            _ => 0,
        }
    }

    /// The `n`-th node in preorder (0 is `self`).
    fn nth_mut(&mut self, n: &mut usize) -> Option<&mut Node> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        match self {
            Node::Arr(items) => {
                for x in items {
                    if let Some(found) = x.nth_mut(n) {
                        return Some(found);
                    }
                }
                None
            }
            Node::Obj(m) => {
                for (_, x) in m {
                    if let Some(found) = x.nth_mut(n) {
                        return Some(found);
                    }
                }
                None
            }
            _ => None,
        }
    }

    fn nth(&self, n: &mut usize) -> Option<&Node> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        match self {
            Node::Arr(items) => items.iter().find_map(|x| x.nth(n)),
            Node::Obj(m) => m.iter().find_map(|(_, x)| x.nth(n)),
            _ => None,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Node::Arr(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Node::Obj(m) => 1 + m.iter().map(|(_, x)| x.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// xorshift: the mutator must be a function of libFuzzer's seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        Rng(u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    fn pick<'x, T>(&mut self, xs: &'x [T]) -> &'x T {
        &xs[self.below(xs.len())]
    }
}

/// Number literals at the edges of what the decoder converts.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "0.0",
    "-0.0",
    "1.5",
    "-1.5",
    "1E+05",
    "1e-7",
    "0.000010355204214985",
    "99999999999",
    "100000000000",
    "1700000000",
    "1700000000123",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1e308",
    "1e309",
    "-1e400",
    "1e-400",
    "4.9e-324",
    "1e999999999999999999",
    "1e1000000000000000000",
    "1e-1999999999999999997",
    "1e-1999999999999999998",
    "0e-99999999999999999999",
    "123456789e-1999999999999999997",
    "9e999999999999999999",
];

/// Strings the decoder parses as numbers, booleans, symbols or enum values.
const STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "1",
    "-0",
    "+1",
    "1.",
    ".5",
    "1.000",
    "-12.000",
    "1e5",
    "1E-05",
    "abc",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "true",
    "TRUE",
    "False",
    "٣.٥",
    "+٣e٣",
    "１２",
    "٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠١",
    "00000000000000000000001",
    "99999999999999999999",
    "-9223372036854775809",
    "1e999999999999999999",
    "10e999999999999999999",
    "1e-1999999999999999997",
    "1.5e-1999999999999999997",
    "1e1000000000000000000",
    "BTC",
    "btc_usdt",
    "BTC-USDT",
    "btc-usdt",
    "PERP_BTC_USDT",
    "SPOT_BTC_USDT",
    "BTC-USDT-210625",
    "BTC/USDT:USDT",
    "/",
    ":",
    "-",
    "_",
    "İ",
    "ß",
    "ǅ",
    "\u{0}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
];

/// Every string of the plan (keys, enum values, topics, constants), under 64 bytes.
fn plan_strings() -> &'static [String] {
    static STRS: OnceLock<Vec<String>> = OnceLock::new();
    STRS.get_or_init(|| {
        let limits = ParseLimits {
            max_depth: 10_000,
            hard_depth: 10_000,
            int_max_str_digits: 0,
        };
        let v = json::parse(crate::plan_json(), limits, None).expect("plan JSON");
        let mut out = std::collections::BTreeSet::new();
        let mut stack = vec![&v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Str(s) if s.len() < 64 => {
                    out.insert(s.to_string());
                }
                Value::Array(items) => stack.extend(items.iter()),
                Value::Object(m) => {
                    for m in m {
                        if m.key.len() < 64 {
                            out.insert(m.key.to_string());
                        }
                        stack.push(&m.value);
                    }
                }
                _ => {}
            }
        }
        out.into_iter().collect()
    })
}

fn some_string(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => rng.pick(STRINGS).to_string(),
        _ => rng.pick(plan_strings()).clone(),
    }
}

fn some_scalar(rng: &mut Rng) -> Node {
    match rng.below(10) {
        0 => Node::Null,
        1 => Node::Bool(rng.below(2) == 0),
        2 => Node::Arr(Vec::new()),
        3 => Node::Obj(Vec::new()),
        4 | 5 => Node::Num(rng.pick(NUMBERS).to_string()),
        6 => Node::Str(rng.pick(NUMBERS).to_string()),
        _ => Node::Str(some_string(rng)),
    }
}

/// Edit a number or numeric text in place (sign, exponent, digits).
fn tweak_number(t: &str, rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => match t.strip_prefix('-') {
            Some(r) => r.to_owned(),
            None => format!("-{t}"),
        },
        1 => format!(
            "{t}e{}",
            rng.pick(&[
                "0",
                "-1",
                "+22",
                "23",
                "-400",
                "308",
                "99999999999999999999"
            ])
        ),
        2 => format!("{t}{}", "9".repeat(1 + rng.below(30))),
        3 => {
            if t.contains('.') || t.contains(['e', 'E']) {
                t.replace(['.', 'e', 'E'], "")
                    .trim_start_matches('0')
                    .to_owned()
            } else {
                format!("{t}.0")
            }
        }
        4 => format!("{t}.{}", "0".repeat(1 + rng.below(20))),
        5 => format!("0.{}1", "0".repeat(rng.below(40))),
        6 => "1".repeat(1 + rng.below(4400)),
        _ => rng.pick(NUMBERS).to_string(),
    }
}

fn is_json_number(t: &str) -> bool {
    matches!(
        json::parse(t, ParseLimits::default(), None),
        Ok(Value::Int(_) | Value::Float(_))
    )
}

/// One edit of the tree.
fn edit(root: &mut Node, rng: &mut Rng) {
    let n = root.count();
    let at = rng.below(n);
    let donor = {
        let mut k = rng.below(n);
        root.nth(&mut k).cloned()
    };
    let Some(node) = root.nth_mut(&mut { at }) else {
        return;
    };
    match rng.below(14) {
        // Replace with an edge value.
        0 | 1 => *node = some_scalar(rng),
        // Retype: number <-> string, and text edits that keep numbers parseable.
        2 => {
            *node = match std::mem::replace(node, Node::Null) {
                Node::Num(t) => Node::Str(t),
                Node::Str(s) if is_json_number(&s) => Node::Num(s),
                Node::Str(s) => Node::Str(match rng.below(4) {
                    0 => text::upper(&s).into_owned(),
                    1 => text::lower(&s).into_owned(),
                    2 => format!("{s}{}", some_string(rng)),
                    _ => format!("{}{s}", some_string(rng)),
                }),
                Node::Bool(b) => Node::Str(b.to_string()),
                Node::Null => Node::Str(String::new()),
                other => other,
            }
        }
        3 | 4 => match node {
            Node::Str(t) => *t = tweak_number(t, rng),
            Node::Num(t) => {
                let new = tweak_number(t, rng);
                if is_json_number(&new) {
                    *t = new;
                }
            }
            _ => {}
        },
        // Delete a member or an element.
        5 => match node {
            Node::Obj(m) if !m.is_empty() => {
                let i = rng.below(m.len());
                m.remove(i);
            }
            Node::Arr(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            _ => {}
        },
        // A duplicate key (msgspec keeps the last), before or after the original.
        6 => {
            if let Node::Obj(m) = node {
                if !m.is_empty() {
                    let i = rng.below(m.len());
                    let key = m[i].0.clone();
                    let value = donor.unwrap_or_else(|| some_scalar(rng));
                    let j = rng.below(m.len() + 1);
                    m.insert(j, (key, value));
                }
            }
        }
        // Add a plan key, or rename one.
        7 => {
            if let Node::Obj(m) = node {
                let key = some_string(rng);
                if !m.is_empty() && rng.below(2) == 0 {
                    let i = rng.below(m.len());
                    m[i].0 = key;
                } else {
                    let value = if rng.below(2) == 0 {
                        donor.unwrap_or(Node::Null)
                    } else {
                        some_scalar(rng)
                    };
                    let j = rng.below(m.len() + 1);
                    m.insert(j, (key, value));
                }
            }
        }
        // Grow an array (more records).
        8 => {
            if let Node::Arr(items) = node {
                if let Some(x) = items.first().cloned() {
                    let most = if rng.below(8) == 0 { 200 } else { 4 };
                    let times = 1 + rng.below(most);
                    for _ in 0..times {
                        items.push(x.clone());
                    }
                }
            }
        }
        // Nest (across the depth limits: 32, 128).
        9 => {
            let levels = match rng.below(4) {
                0 => 1,
                1 => 1 + rng.below(8),
                _ => *rng.pick(&[30, 31, 32, 33, 126, 127, 128, 129]),
            };
            let mut v = std::mem::replace(node, Node::Null);
            for _ in 0..levels {
                v = if rng.below(2) == 0 {
                    Node::Arr(vec![v])
                } else {
                    Node::Obj(vec![(some_string(rng), v)])
                };
            }
            *node = v;
        }
        // Copy another subtree here.
        10 | 11 => {
            if let Some(d) = donor {
                *node = d;
            }
        }
        // Swap the order of members (routing looks at several keys).
        12 => {
            if let Node::Obj(m) = node {
                if m.len() > 1 {
                    let (i, j) = (rng.below(m.len()), rng.below(m.len()));
                    m.swap(i, j);
                }
            }
        }
        // A map keyed by symbols (explode a symbol-keyed object).
        _ => {
            let v = std::mem::replace(node, Node::Null);
            let mut m = vec![(some_string(rng), v.clone())];
            if rng.below(2) == 0 {
                m.push((some_string(rng), v));
            }
            *node = Node::Obj(m);
        }
    }
}

/// Mutate a JSON text structurally; None if it is not JSON (or too deep to handle).
pub fn mutate_json(text: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut root = Node::parse(text)?;
    for _ in 0..1 + rng.below(3) {
        edit(&mut root, rng);
    }
    if root.depth() > MAX_TREE_DEPTH {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 64);
    root.write(&mut out);
    Some(out.into_bytes())
}

/// The whole input: `[flags, text...]`. Returns the new length, or None to fall back to
/// libFuzzer's byte mutations.
pub fn mutate_input(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> Option<usize> {
    let mut rng = Rng::new(seed);
    let [flags, text @ ..] = data.get(..size)? else {
        return None;
    };
    let mut flags = *flags;
    if rng.below(16) == 0 {
        flags ^= 1 << rng.below(5);
    }
    let new = mutate_json(text, &mut rng)?;
    if new.len() + 1 > max_size || new.len() + 1 > data.len() {
        return None;
    }
    data[0] = flags;
    data[1..=new.len()].copy_from_slice(&new);
    Some(new.len() + 1)
}
