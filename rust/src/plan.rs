//! The decode plan (`pushwire._generated.plan.PLAN_JSON`), loaded once into typed tables.
//!
//! The layout is documented in `pushwire/codegen/plan.py`; the semantics in `pushwire/_pydecode.py`.
//! Nothing here knows an exchange: a spec change is a regenerated plan, loaded at runtime.
//!
//! Loading also builds three tables the hot path uses: the [`KeyTable`] of every object key a
//! path can look up (interned by the JSON parser), the enum value strings (built once as Python
//! strings) and the constants (defaults, replies; built once as Python objects, shared by every
//! event like the reference decoder shares its plan's objects).

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::json::{self, KeyTable, Member, ParseLimits, Value};
use crate::text::Packed;

pub const PLAN_FORMAT: i64 = 1;

pub type KindId = usize;

#[derive(Debug)]
pub struct Plan {
    pub kinds: Vec<Kind>,
    /// In the plan's order; [`Plan::known`] lists them sorted for messages.
    pub exchanges: Vec<(String, Exchange)>,
    pub keys: KeyTable,
    /// Enum values, by id ([`Field::values`]).
    pub strings: Vec<String>,
    /// Defaults and text-frame replies, by id, as `json.loads` reads them.
    pub consts: Vec<Value<'static>>,
    /// How many [`Cond::Frame`] conditions there are (their cache slots).
    pub frame_conds: usize,
}

#[derive(Debug)]
pub struct Kind {
    pub name: String,
    pub class: String,
    pub fields: Vec<String>,
}

#[derive(Debug)]
pub struct Exchange {
    pub symbols: Vec<SymbolRule>,
    pub topic_keys: Vec<Path>,
    pub envelope_ts: Vec<Path>,
    pub text_frames: Vec<TextFrame>,
    pub max_text_frame: usize,
    pub routes: Vec<Route>,
    /// The first keys of the paths that start at the frame's root (`$.` paths, and the
    /// record paths of routing conditions, topic keys and envelope times), by root slot: the
    /// root's members are looked up once per frame.
    pub root_keys: Vec<u32>,
    /// Key id -> root slot (`NO_SLOT`: none).
    pub root_slot_of: Vec<u16>,
    /// Which routes can match, from a few frame texts (None: more than 64 routes).
    pub router: Option<Router>,
}

/// Routing by the texts the routes compare: most route conditions hold only if some texts of
/// the frame (`topic`, `op`, ...) are among a few values, some members exist or have a type.
/// Each route gets such necessary conditions where they can be derived ([`guards`]): groups
/// of literals, each group needing one of its literals to hold. A frame reads each path once,
/// marks the groups it satisfies, and only the routes whose groups all hold (with the routes
/// without a guard) have their condition evaluated, in order: the first match is the same, and
/// a skipped route's condition is false (and cannot fail: routes whose conditions could fail
/// get no guard). A route whose condition is exactly its groups is not evaluated at all.
#[derive(Debug)]
pub struct Router {
    /// The paths read: path, lower-cased or not, cut before a separator or not.
    pub keys: Vec<RouteKey>,
    /// Per route: the guard groups (bits) that must all hold (0: no guard, always evaluated).
    pub need: Vec<u64>,
    /// Bit i: route i's condition is exactly its guard groups (true once they all hold).
    pub exact: u64,
    /// Per route whose condition is an `all`: bit j: part j is exactly some of its guard
    /// groups (true once they all hold: only the other parts are evaluated).
    pub covered: Vec<u64>,
}

#[derive(Debug)]
pub struct RouteKey {
    pub path: Path,
    /// The root slot of a one-key path (its value is gathered: read it directly).
    pub slot: Option<u16>,
    pub ci: bool,
    /// Never empty (an empty separator fails: such routes get no guard).
    pub before: Option<String>,
    /// Text -> the guard groups (bits) it satisfies.
    pub table: Vec<(String, u64)>,
    /// The texts of `table`, packed (same order).
    pub packed: Vec<Packed>,
    /// JSON type -> the groups it satisfies (`is`, which ignores ci and before).
    pub types: Vec<(JsonType, u64)>,
    /// The groups satisfied when the value is present (`exists: true`), or not (`false`).
    pub present: u64,
    pub absent: u64,
}

/// A literal a router key can test: `eq` (not with an empty separator), `is`, `exists`.
fn literal(c: &Cond) -> bool {
    match c {
        Cond::Cmp {
            op: CmpOp::Eq,
            before,
            ..
        } => before.as_deref() != Some(""),
        Cond::Is { .. } | Cond::Exists { .. } => true,
        _ => false,
    }
}

/// A necessary condition of `c`: `c` holds only if one of these literals holds (None: none
/// derived), and whether it is also sufficient. `all` needs each part, so any part's guard
/// will do; `any` needs one part, so it needs a guard for every part.
fn guard(c: &Cond) -> Option<(Vec<&Cond>, bool)> {
    match c {
        _ if literal(c) => Some((vec![c], true)),
        Cond::All(cs) if cs.len() == 1 => cs.first().and_then(guard),
        Cond::All(cs) => cs.iter().find_map(guard).map(|(g, _)| (g, false)),
        Cond::Any(cs) if !cs.is_empty() => {
            let mut all = Vec::new();
            let mut exact = true;
            for x in cs {
                let (g, e) = guard(x)?;
                all.extend(g);
                exact &= e;
            }
            Some((all, exact))
        }
        _ => None,
    }
}

/// Whether a literal reads a member of the frame root (gathered once: cheap to read for
/// every frame) rather than a longer path.
fn cheap(c: &Cond) -> bool {
    match c {
        Cond::Cmp { path, .. } | Cond::Is { path, .. } | Cond::Exists { path, .. } => {
            path.root_member().is_some()
        }
        _ => false,
    }
}

/// The necessary groups of `c` (each: one of its literals must hold), and whether together
/// they are also sufficient: each part of an `all` whose guard reads only root members is a
/// group of its own (a part reading longer paths is left to the condition); else [`guard`].
fn guards(c: &Cond) -> Option<(Vec<Vec<&Cond>>, bool)> {
    if let Cond::All(cs) = c {
        let mut groups = Vec::new();
        let mut exact = true;
        for x in cs {
            match guards(x) {
                Some((g, e)) if g.iter().flatten().all(|l| cheap(l)) => {
                    groups.extend(g);
                    exact &= e;
                }
                _ => exact = false,
            }
        }
        if !groups.is_empty() {
            return Some((groups, exact));
        }
    }
    guard(c).map(|(g, e)| (vec![g], e))
}

/// Whether evaluating `c` can fail (an empty `before` separator is a ValueError).
fn can_fail(c: &Cond) -> bool {
    match c {
        Cond::Any(cs) | Cond::All(cs) => cs.iter().any(can_fail),
        Cond::Not(x) | Cond::Frame { cond: x, .. } => can_fail(x),
        Cond::Cmp { before, .. } => before.as_deref() == Some(""),
        _ => false,
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    a.base == b.base
        && a.keys.len() == b.keys.len()
        && a.keys.iter().zip(&b.keys).all(|(x, y)| x.key == y.key)
}

impl Router {
    fn new(routes: &[Route]) -> Option<Router> {
        if routes.len() > 64 {
            return None;
        }
        let mut router = Router {
            keys: Vec::new(),
            need: vec![0; routes.len()],
            exact: 0,
            covered: vec![0; routes.len()],
        };
        let mut ngroups = 0usize;
        for (i, route) in routes.iter().enumerate() {
            let groups = if can_fail(&route.when) {
                None
            } else {
                guards(&route.when)
            };
            // Past 64 groups in all, a route is not guarded (always evaluated).
            let Some((groups, exact)) = groups.filter(|(g, _)| ngroups + g.len() <= 64) else {
                continue;
            };
            if exact {
                router.exact |= 1u64 << i;
            }
            if let Cond::All(cs) = &route.when {
                for (j, x) in cs.iter().enumerate().take(64) {
                    if matches!(guards(x), Some((g, true)) if g.iter().flatten().all(|l| cheap(l)))
                    {
                        router.covered[i] |= 1u64 << j;
                    }
                }
            }
            for lits in groups {
                let bit = 1u64 << ngroups;
                ngroups += 1;
                router.need[i] |= bit;
                for lit in lits {
                    router.literal(lit, bit);
                }
            }
        }
        for key in &mut router.keys {
            key.packed = key.table.iter().map(|(t, _)| Packed::of_plan(t)).collect();
        }
        Some(router)
    }

    /// Make literal `lit` satisfy group `bit`.
    fn literal(&mut self, lit: &Cond, bit: u64) {
        match lit {
            Cond::Cmp {
                path,
                values,
                ci,
                before,
                ..
            } => {
                let k = self.key(path, |k| k.ci == *ci && k.before == *before);
                let key = &mut self.keys[k];
                key.ci = *ci;
                key.before.clone_from(before);
                for v in values {
                    match key.table.iter_mut().find(|(t, _)| t == v) {
                        Some((_, m)) => *m |= bit,
                        None => key.table.push((v.clone(), bit)),
                    }
                }
            }
            Cond::Is { path, ty } => {
                let k = self.key(path, |_| true);
                let types = &mut self.keys[k].types;
                match types.iter_mut().find(|(t, _)| t == ty) {
                    Some((_, m)) => *m |= bit,
                    None => types.push((*ty, bit)),
                }
            }
            Cond::Exists { path, value } => {
                let k = self.key(path, |_| true);
                let key = &mut self.keys[k];
                if *value {
                    key.present |= bit;
                } else {
                    key.absent |= bit;
                }
            }
            _ => {}
        }
    }

    /// The key reading `path` that `fits` (or has no texts yet: any fits it), made if none.
    fn key(&mut self, path: &Path, fits: impl Fn(&RouteKey) -> bool) -> usize {
        let found = self.keys.iter().position(|k| {
            same_path(&k.path, path)
                && (fits(k) || (k.table.is_empty() && !k.ci && k.before.is_none()))
        });
        found.unwrap_or_else(|| {
            self.keys.push(RouteKey {
                path: path.clone(),
                slot: path.root_member(),
                ci: false,
                before: None,
                table: Vec::new(),
                packed: Vec::new(),
                types: Vec::new(),
                present: 0,
                absent: 0,
            });
            self.keys.len() - 1
        })
    }
}

#[derive(Debug)]
pub struct SymbolRule {
    pub regex: Regex,
    /// The named groups, in pattern order (Python's `groupdict()` order).
    pub groups: Vec<String>,
    pub template: String,
}

#[derive(Debug)]
pub struct TextFrame {
    pub text: Vec<u8>,
    pub kind: String,
    /// Constant id of the reply.
    pub reply: u32,
}

#[derive(Debug)]
pub struct Route {
    pub channel: Arc<str>,
    pub when: Cond,
    pub emits: Vec<Emit>,
}

#[derive(Debug)]
pub struct Emit {
    pub kind: KindId,
    pub nslots: usize,
    pub records: Vec<Step>,
    /// The previous emit of the route walks the same records (its walk is reused).
    pub same_records: bool,
    pub when: Option<Cond>,
    pub fields: Vec<Field>,
    /// The first keys of the emit's record paths (key ids), by gather slot: a record's members
    /// are looked up once, into these slots, before its fields are evaluated.
    pub rec_keys: Vec<u32>,
    /// Key id -> gather slot (`NO_SLOT`: a key no record path starts with).
    pub slot_of: Vec<u16>,
    /// Each slot's value before the fields run: the default of a [`Field::prefilled`] field.
    pub init: Vec<Option<u32>>,
    /// The slots `init` gives a constant, with it: the others start as None.
    pub init_consts: Vec<(u32, u32)>,
    /// The fields that are not prefilled, in order, as [`Hot`] entries.
    pub hot: Vec<Hot>,
}

/// What the per-field loop needs in the common case, packed in 24 bytes: the loop reads these
/// dense lines instead of one or two cache lines of each large [`Field`] (plan data that
/// other work evicts between frames); the Field is read only for what else a path needs.
#[derive(Debug, Clone, Copy)]
pub struct Hot {
    pub path: HotPath,
    pub ty: FieldType,
    pub case: Case,
    pub required: bool,
    /// The source has a `when`.
    pub when: bool,
    /// The gather slot ([`HotPath::Rec`]) or root slot ([`HotPath::Root`]).
    pub gslot: u16,
    /// The event slot.
    pub slot: u32,
    /// Index into [`Emit::fields`].
    pub field: u32,
    /// [`HotPath::Interned`]: the string id; [`HotPath::Bool`]: 0 or 1; a symbol field: its
    /// raw slot (`u32::MAX`: none).
    pub aux: u32,
    pub default: Option<u32>,
}

/// How the per-field loop evaluates a field ([`Hot`]): which of the Field's fast forms it has
/// (at most one), else the general path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotPath {
    /// No source: absent.
    NoSource,
    /// [`Field::fast`]: the record member in the gather slot, converted.
    Rec,
    /// [`Field::fast_root`]: the root member in the root slot, converted.
    Root,
    /// [`FastConst::Interned`].
    Interned,
    /// [`FastConst::Bool`].
    Bool,
    /// [`Field::fast_any`].
    Any,
    /// [`Field::fast_map`].
    Map,
    /// [`Field::fast_signed`].
    Signed,
    /// None of these: the source is evaluated.
    General,
}

impl Hot {
    fn of(f: &Field, field: usize) -> Hot {
        let (path, gslot, aux) = match (f.fast, f.fast_root, f.fast_const) {
            _ if f.source.is_none() => (HotPath::NoSource, 0, 0),
            (Some(g), _, _) => (HotPath::Rec, g, 0),
            (None, Some(g), _) => (HotPath::Root, g, 0),
            (None, None, Some(FastConst::Interned(id))) => (HotPath::Interned, 0, id),
            (None, None, Some(FastConst::Bool(b))) => (HotPath::Bool, 0, u32::from(b)),
            _ if f.fast_any => (HotPath::Any, 0, 0),
            _ if f.fast_map.is_some() => (HotPath::Map, 0, 0),
            _ if f.fast_signed.is_some() => (HotPath::Signed, 0, 0),
            _ => (HotPath::General, 0, 0),
        };
        let raw_slot = f
            .raw_slot
            .map_or(u32::MAX, |r| u32::try_from(r).unwrap_or(u32::MAX));
        let aux = if f.ty == FieldType::Symbol {
            raw_slot
        } else {
            aux
        };
        // An index past u32 is past any slice: out of range either way.
        let slot = u32::try_from(f.slot).unwrap_or(u32::MAX);
        let field = u32::try_from(field).unwrap_or(u32::MAX);
        Hot {
            path,
            ty: f.ty,
            case: f.case,
            required: f.required,
            when: f.source.as_ref().is_some_and(|s| s.when.is_some()),
            gslot,
            slot,
            field,
            aux,
            default: f.default,
        }
    }
}

/// No gather slot.
pub const NO_SLOT: u16 = u16::MAX;

#[derive(Debug)]
pub struct Step {
    pub key: String,
    pub id: u32,
    pub iter: Iter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iter {
    None,
    Array,
    Map,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Decimal,
    Int,
    Time,
    Bool,
    Enum,
    Symbol,
    /// str, text, or any other name (the reference decoder treats them all as text).
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Keep,
    Lower,
    Upper,
}

#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub slot: usize,
    pub ty: FieldType,
    /// Enum values and their string ids.
    pub values: Vec<(String, u32)>,
    /// The texts of `values`, packed (same order).
    pub packed_values: Vec<Packed>,
    pub case: Case,
    pub required: bool,
    /// The default's constant id, None for null.
    pub default: Option<u32>,
    pub source: Option<Source>,
    pub raw_slot: Option<usize>,
    /// `_source_paths(source)`, for messages.
    pub source_paths: String,
    /// The gather slot when the source is a plain one-key record path (maybe with `when`, no
    /// modifier): the value is the record's member, converted to the field's type.
    pub fast: Option<u16>,
    /// Like `fast` for a one-key root path (`$.x`): its root slot.
    pub fast_root: Option<u16>,
    /// An enum field mapped from record paths or `sign_of`s ([`FastMap`]).
    pub fast_map: Option<FastMap>,
    /// The source is `any` of plain paths (no `when`, no modifier, on the `any` either).
    pub fast_any: bool,
    /// A plain constant source, converted once: an enum value's string id, or a boolean.
    pub fast_const: Option<FastConst>,
    /// A decimal field from a one-key record path re-signed by `sign_by` and/or `negate` (no
    /// other modifier, no `when`): the gather slot of the path.
    pub fast_signed: Option<u16>,
    /// No source, not required, and no other field reads or writes its slot: its value is its
    /// default, set in [`Emit::init`] before the fields run (evaluating it is skipped).
    pub prefilled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastConst {
    Interned(u32),
    Bool(bool),
}

/// An enum field mapped from a record path, or from `any` of mapped record paths and
/// `sign_of`s (each maybe with `when`, no other modifier), precomputed: per alternative (in
/// the order of the `any`'s args), each map key with the interned enum value it converts to
/// (None: the general path decides).
#[derive(Debug)]
pub struct FastMap {
    pub alts: Vec<FastAlt>,
}

#[derive(Debug)]
pub struct FastAlt {
    pub from: MapFrom,
    pub ci: bool,
    pub entries: Vec<(String, Option<u32>)>,
    /// The keys of `entries`, packed (same order).
    pub packed: Vec<Packed>,
}

#[derive(Debug, Clone, Copy)]
pub enum MapFrom {
    /// A one-key record path: its gather slot.
    Rec(u16),
    /// `sign_of`: the event slot whose sign is mapped.
    SignOf(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Rec,
    Root,
    Parent,
    Key,
}

#[derive(Debug, Clone)]
pub struct Path {
    pub base: Base,
    pub keys: Vec<PathKey>,
    /// For a record path (base `rec`, at least one key) inside an emit: the emit's gather slot
    /// of its first key ([`Emit::rec_keys`]).
    pub rec_slot: Option<u16>,
    /// For a path that starts at the root (base `root`, or base `rec` outside an emit) with at
    /// least one key: the root slot of its first key ([`Exchange::root_keys`]). A `parent`
    /// path has one too, read when the record's parent is the root (`^.x` of a top-level
    /// `data[]` row: no scan of a large root object per row).
    pub root_slot: Option<u16>,
}

impl Path {
    /// The root slot of a one-key path that always reads the root (not a `parent` path).
    pub fn root_member(&self) -> Option<u16> {
        self.root_slot
            .filter(|_| self.keys.len() == 1 && self.base != Base::Parent)
    }
}

#[derive(Debug, Clone)]
pub struct PathKey {
    pub key: String,
    /// The key's id in [`Plan::keys`].
    pub id: u32,
    /// The list index a key of ASCII digits names (`k.isascii() and k.isdigit()`, then `int(k)`).
    pub index: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Bool,
    Null,
    Object,
    /// "array", and any other name (the reference decoder's last branch).
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Prefix,
}

#[derive(Debug)]
pub enum Cond {
    /// A condition inside an emit that reads only the frame root (`$.` paths): the same for
    /// every record of the frame, so it is evaluated once per frame (cache slot `id`).
    Frame {
        id: usize,
        cond: Box<Cond>,
    },
    Any(Vec<Cond>),
    All(Vec<Cond>),
    Not(Box<Cond>),
    Exists {
        path: Path,
        value: bool,
    },
    Is {
        path: Path,
        ty: JsonType,
    },
    Cmp {
        op: CmpOp,
        path: Path,
        values: Vec<String>,
        /// `values`, packed (same order).
        packed: Vec<Packed>,
        ci: bool,
        before: Option<String>,
    },
}

#[derive(Debug)]
pub enum Op {
    Path(Path),
    Const(Value<'static>),
    Test(Cond),
    Sub(Box<Source>, Box<Source>),
    Any(Vec<Source>),
    SignOf(usize),
    SymbolPart { slot: usize, part: String },
    Template(Vec<Part>),
}

#[derive(Debug)]
pub enum Part {
    Text(String),
    Path(Path),
}

/// Texts a value is compared against (`canonical(v) in [...]`): strings, and whether `null` is
/// among them (it then matches values without canonical text).
#[derive(Debug, Default)]
pub struct TextSet {
    pub texts: Vec<String>,
    /// `texts`, packed (same order).
    pub packed: Vec<Packed>,
    pub null: bool,
}

impl TextSet {
    #[inline]
    pub fn contains(&self, text: Option<&str>) -> bool {
        match text {
            Some(t) => self.texts.iter().any(|x| x == t),
            None => self.null,
        }
    }
}

#[derive(Debug)]
pub struct SignBy {
    pub path: Path,
    pub negative: TextSet,
    pub positive: TextSet,
    pub ci: bool,
}

#[derive(Debug)]
pub struct Source {
    pub op: Op,
    pub when: Option<Cond>,
    pub absent_if: Option<TextSet>,
    /// Key -> value; a key appears once (the last one of the plan object).
    pub map: Option<Vec<(String, Value<'static>)>>,
    pub ci: bool,
    pub join: Option<String>,
    pub sign_by: Option<SignBy>,
    pub negate: bool,
    /// No modifier after the value (join, absent_if, map, sign_by, negate): `_modify` is a no-op.
    pub plain: bool,
}

impl Source {
    /// The mapped value of a canonical text.
    #[inline]
    pub fn lookup(&self, key: &str) -> Option<&Value<'static>> {
        self.map
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The mapped value of the first key `is` accepts.
    #[inline]
    pub fn lookup_by(&self, is: impl Fn(&str) -> bool) -> Option<&Value<'static>> {
        self.map
            .as_ref()?
            .iter()
            .find(|(k, _)| is(k))
            .map(|(_, v)| v)
    }
}

/// A plan that cannot be used; the message says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad decode plan: {}", self.0)
    }
}

impl std::error::Error for PlanError {}

type R<T> = Result<T, PlanError>;
type V = Value<'static>;

#[cold]
fn bad<T>(at: &str, what: impl fmt::Display) -> R<T> {
    Err(PlanError(format!("{at}: {what}")))
}

fn obj<'v>(v: &'v V, at: &str) -> R<&'v [Member<'static>]> {
    match v {
        Value::Object(m) => Ok(m),
        _ => bad(at, "expected an object"),
    }
}

fn member<'v>(v: &'v V, key: &str, at: &str) -> R<&'v V> {
    match v.get(key) {
        Some(x) => Ok(x),
        None => bad(at, format_args!("missing {key:?}")),
    }
}

/// A member that may be missing or null.
fn opt<'v>(v: &'v V, key: &str) -> Option<&'v V> {
    match v.get(key) {
        None | Some(Value::Null) => None,
        Some(x) => Some(x),
    }
}

fn string(v: &V, at: &str) -> R<String> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        _ => bad(at, "expected a string"),
    }
}

fn str_member(v: &V, key: &str, at: &str) -> R<String> {
    string(member(v, key, at)?, &format!("{at}.{key}"))
}

fn opt_str(v: &V, key: &str, at: &str) -> R<Option<String>> {
    opt(v, key)
        .map(|x| string(x, &format!("{at}.{key}")))
        .transpose()
}

fn boolean(v: &V, key: &str, at: &str) -> R<bool> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => bad(at, format_args!("{key} must be a boolean")),
    }
}

fn index(v: &V, at: &str) -> R<usize> {
    match v {
        Value::Int(t) => match t.parse::<usize>() {
            Ok(n) => Ok(n),
            Err(_) => bad(at, "expected a small non-negative integer"),
        },
        _ => bad(at, "expected an integer"),
    }
}

fn array<'v>(v: &'v V, at: &str) -> R<&'v [V]> {
    match v {
        Value::Array(items) => Ok(items),
        _ => bad(at, "expected an array"),
    }
}

/// Plan constants are read by `json.loads`: float literals are Python floats, not `_JsonFloat`s.
fn constant(v: &V) -> V {
    match v {
        Value::Float(t) => Value::PyFloat(t.parse::<f64>().unwrap_or(f64::NAN)),
        Value::Array(items) => Value::Array(items.iter().map(constant).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|x| Member {
                    key: x.key.clone(),
                    id: 0,
                    value: constant(&x.value),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn text_set(v: &V, at: &str) -> R<TextSet> {
    let mut set = TextSet::default();
    for item in array(v, at)? {
        match item {
            Value::Str(s) => set.texts.push(s.to_string()),
            Value::Null => set.null = true,
            _ => {} // a non-string never equals a text
        }
    }
    set.packed = set.texts.iter().map(|t| Packed::of_plan(t)).collect();
    Ok(set)
}

impl Plan {
    /// Parse and compile the plan JSON text.
    pub fn from_json(text: &str) -> R<Plan> {
        let limits = ParseLimits {
            max_depth: 10_000,
            hard_depth: 10_000,
            int_max_str_digits: 0,
        };
        let root = match json::parse(text, limits, None) {
            Ok(v) => v.into_static(),
            Err(e) => return bad("plan", format_args!("not JSON: {e}")),
        };
        Plan::from_value(&root)
    }

    pub fn from_value(root: &V) -> R<Plan> {
        match member(root, "format", "plan")? {
            Value::Int(t) if t.as_ref() == PLAN_FORMAT.to_string() => {}
            _ => {
                return bad(
                    "plan.format",
                    format_args!("this decoder reads format {PLAN_FORMAT}"),
                )
            }
        }
        let mut kinds = Vec::new();
        for (name, k) in json::dedup_members(obj(member(root, "kinds", "plan")?, "plan.kinds")?) {
            let at = format!("kinds.{name}");
            let fields = array(member(k, "fields", &at)?, &at)?
                .iter()
                .map(|f| string(f, &at))
                .collect::<R<Vec<_>>>()?;
            if fields.len() < 2 {
                return bad(&at, "an event has at least exchange and ts");
            }
            kinds.push(Kind {
                name: name.to_string(),
                class: str_member(k, "class", &at)?,
                fields,
            });
        }
        let mut c = Compiler {
            kinds: &kinds,
            emit_keys: None,
            root_keys: Vec::new(),
            keys: KeyTable::default(),
            strings: Vec::new(),
            consts: Vec::new(),
            frame_conds: 0,
        };
        let mut exchanges = Vec::new();
        for (name, ex) in
            json::dedup_members(obj(member(root, "exchanges", "plan")?, "plan.exchanges")?)
        {
            let compiled = c.exchange(ex, &format!("exchanges.{name}"))?;
            exchanges.push((name.to_string(), compiled));
        }
        let Compiler {
            keys,
            strings,
            consts,
            frame_conds,
            ..
        } = c;
        if keys.len() >= usize::from(u16::MAX) {
            return bad("plan", "more than 65534 distinct keys");
        }
        Ok(Plan {
            kinds,
            exchanges,
            keys,
            strings,
            consts,
            frame_conds,
        })
    }

    pub fn exchange(&self, name: &str) -> Option<usize> {
        self.exchanges.iter().position(|(n, _)| n == name)
    }

    pub fn kind(&self, name: &str) -> Option<KindId> {
        self.kinds.iter().position(|k| k.name == name)
    }

    /// "htx, woo, xt": the exchanges, sorted, for "unknown exchange" messages.
    pub fn known(&self) -> String {
        let mut names: Vec<&str> = self.exchanges.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

struct Compiler<'k> {
    kinds: &'k [Kind],
    /// The first keys of record paths of the emit being compiled (gather slots).
    emit_keys: Option<Vec<u32>>,
    /// The first keys of root paths of the exchange being compiled (root slots).
    root_keys: Vec<u32>,
    keys: KeyTable,
    strings: Vec<String>,
    consts: Vec<V>,
    frame_conds: usize,
}

impl Compiler<'_> {
    fn string_id(&mut self, s: &str) -> u32 {
        match self.strings.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => {
                self.strings.push(s.to_owned());
                (self.strings.len() - 1) as u32
            }
        }
    }

    fn const_id(&mut self, v: V) -> u32 {
        self.consts.push(v);
        (self.consts.len() - 1) as u32
    }

    fn exchange(&mut self, ex: &V, at: &str) -> R<Exchange> {
        self.root_keys.clear();
        let mut symbols = Vec::new();
        for (i, s) in array(member(ex, "symbols", at)?, at)?.iter().enumerate() {
            let sat = format!("{at}.symbols[{i}]");
            let pattern = str_member(s, "regex", &sat)?;
            // Python's fullmatch: the whole text, whatever anchors the pattern has.
            let regex = match Regex::new(&format!(r"\A(?:{pattern})\z")) {
                Ok(r) => r,
                Err(e) => {
                    return bad(
                        &sat,
                        format_args!("regex not supported by the native decoder: {e}"),
                    )
                }
            };
            let groups = regex.capture_names().flatten().map(str::to_owned).collect();
            symbols.push(SymbolRule {
                regex,
                groups,
                template: str_member(s, "template", &sat)?,
            });
        }
        let mut topic_keys = Vec::new();
        for p in array(member(ex, "topic_keys", at)?, at)? {
            topic_keys.push(self.path(p, &format!("{at}.topic_keys"))?);
        }
        let mut envelope_ts = Vec::new();
        for p in array(member(ex, "envelope_ts", at)?, at)? {
            envelope_ts.push(self.path(p, &format!("{at}.envelope_ts"))?);
        }
        let mut text_frames = Vec::new();
        if let Some(tf) = opt(ex, "text_frames") {
            for (text, f) in json::dedup_members(obj(tf, at)?) {
                let fat = format!("{at}.text_frames.{text}");
                let reply = self.const_id(f.get("reply").map(constant).unwrap_or(Value::Null));
                text_frames.push(TextFrame {
                    text: text.as_bytes().to_vec(),
                    kind: str_member(f, "kind", &fat)?,
                    reply,
                });
            }
        }
        let max_text_frame = text_frames.iter().map(|t| t.text.len()).max().unwrap_or(0);
        let mut routes = Vec::new();
        for (i, r) in array(member(ex, "routes", at)?, at)?.iter().enumerate() {
            let rat = format!("{at}.routes[{i}]");
            let channel: Arc<str> = Arc::from(str_member(r, "channel", &rat)?);
            let when = self.cond(member(r, "when", &rat)?, &format!("{rat}.when"))?;
            let mut emits = Vec::new();
            for (j, e) in array(member(r, "emits", &rat)?, &rat)?.iter().enumerate() {
                let mut emit = self.emit(e, &format!("{rat}.emits[{j}]"))?;
                emit.same_records = emits.last().is_some_and(|prev: &Emit| {
                    prev.records.len() == emit.records.len()
                        && (prev.records.iter().zip(&emit.records))
                            .all(|(a, b)| a.key == b.key && a.iter == b.iter)
                });
                emits.push(emit);
            }
            routes.push(Route {
                channel,
                when,
                emits,
            });
        }
        let router = Router::new(&routes);
        let root_keys = std::mem::take(&mut self.root_keys);
        let mut root_slot_of = vec![NO_SLOT; self.keys.len() + 1];
        for (slot, &id) in root_keys.iter().enumerate() {
            if let Some(x) = root_slot_of.get_mut(id as usize) {
                *x = slot as u16;
            }
        }
        Ok(Exchange {
            symbols,
            topic_keys,
            envelope_ts,
            text_frames,
            max_text_frame,
            routes,
            router,
            root_keys,
            root_slot_of,
        })
    }

    fn emit(&mut self, e: &V, at: &str) -> R<Emit> {
        let kind_name = str_member(e, "kind", at)?;
        let Some(kind) = self.kinds.iter().position(|k| k.name == kind_name) else {
            return bad(at, format_args!("unknown kind {kind_name:?}"));
        };
        let nslots = self.kinds[kind].fields.len();
        let mut records = Vec::new();
        for s in array(member(e, "records", at)?, at)? {
            let iter = match opt(s, "iter") {
                None => Iter::None,
                Some(Value::Str(t)) if t == "array" => Iter::Array,
                Some(Value::Str(t)) if t == "map" => Iter::Map,
                Some(_) => return bad(at, "records iter is null, array or map"),
            };
            let key = str_member(s, "key", at)?;
            let id = self.keys.intern(&key);
            records.push(Step { key, id, iter });
        }
        self.emit_keys = Some(Vec::new());
        let when = match opt(e, "when") {
            Some(c) => Some(self.cond(c, &format!("{at}.when"))?),
            None => None,
        };
        let mut fields = Vec::new();
        for (i, f) in array(member(e, "fields", at)?, at)?.iter().enumerate() {
            fields.push(self.field(f, nslots, &format!("{at}.fields[{i}]"))?);
        }
        prefill(&mut fields);
        let mut init = vec![None; nslots];
        for f in fields.iter().filter(|f| f.prefilled) {
            if let Some(x) = init.get_mut(f.slot) {
                *x = f.default;
            }
        }
        let init_consts = (init.iter().enumerate())
            .filter_map(|(i, c)| Some((u32::try_from(i).ok()?, (*c)?)))
            .collect();
        let hot = (fields.iter().enumerate())
            .filter(|(_, f)| !f.prefilled)
            .map(|(i, f)| Hot::of(f, i))
            .collect();
        let rec_keys = self.emit_keys.take().unwrap_or_default();
        let mut slot_of = vec![NO_SLOT; self.keys.len() + 1];
        for (slot, &id) in rec_keys.iter().enumerate() {
            if let Some(x) = slot_of.get_mut(id as usize) {
                *x = slot as u16;
            }
        }
        Ok(Emit {
            kind,
            nslots,
            records,
            same_records: false,
            when,
            fields,
            rec_keys,
            slot_of,
            init,
            init_consts,
            hot,
        })
    }

    fn field(&mut self, f: &V, nslots: usize, at: &str) -> R<Field> {
        let name = str_member(f, "name", at)?;
        let slot = index(member(f, "slot", at)?, at)?;
        if slot >= nslots {
            return bad(at, "slot out of range");
        }
        let raw_slot = opt(f, "raw_slot").map(|v| index(v, at)).transpose()?;
        if raw_slot.is_some_and(|r| r >= nslots) {
            return bad(at, "raw_slot out of range");
        }
        let ty = match str_member(f, "type", at)?.as_str() {
            "decimal" => FieldType::Decimal,
            "int" => FieldType::Int,
            "time" => FieldType::Time,
            "bool" => FieldType::Bool,
            "enum" => FieldType::Enum,
            "symbol" => FieldType::Symbol,
            _ => FieldType::Text,
        };
        let mut values = Vec::new();
        if let Some(v) = opt(f, "values") {
            for x in array(v, at)? {
                if let Value::Str(s) = x {
                    values.push((s.to_string(), self.string_id(s)));
                }
            }
        }
        let case = match opt_str(f, "case", at)?.as_deref() {
            Some("lower") => Case::Lower,
            Some("upper") => Case::Upper,
            _ => Case::Keep,
        };
        let source = match opt(f, "source") {
            Some(s) => Some(self.source(s, nslots, &format!("{at}.source"))?),
            None => None,
        };
        let source_paths = source_paths(source.as_ref());
        let (fast, fast_root) = match &source {
            Some(Source {
                op: Op::Path(p),
                plain: true,
                ..
            }) if p.keys.len() == 1 => match p.base {
                Base::Rec => (p.rec_slot, None),
                Base::Root => (None, p.root_slot),
                _ => (None, None),
            },
            _ => (None, None),
        };
        let fast_alt = |src: &Source| -> Option<FastAlt> {
            let Source {
                absent_if: None,
                map: Some(map),
                join: None,
                sign_by: None,
                negate: false,
                ci,
                ..
            } = src
            else {
                return None;
            };
            let from = match &src.op {
                Op::Path(p) if p.base == Base::Rec && p.keys.len() == 1 => {
                    MapFrom::Rec(p.rec_slot?)
                }
                Op::SignOf(slot) => MapFrom::SignOf(*slot),
                _ => return None,
            };
            let entries = map
                .iter()
                .map(|(k, v)| {
                    let id = match v {
                        Value::Str(t) => values
                            .iter()
                            .find(|(x, _)| x == t.as_ref())
                            .or_else(|| {
                                let low = crate::text::lower(t);
                                values.iter().find(|(x, _)| *x == low)
                            })
                            .map(|(_, id)| *id),
                        _ => None,
                    };
                    (k.clone(), id)
                })
                .collect();
            let packed = map.iter().map(|(k, _)| Packed::of_plan(k)).collect();
            Some(FastAlt {
                from,
                ci: *ci,
                entries,
                packed,
            })
        };
        let fast_map = match &source {
            _ if ty != FieldType::Enum => None,
            Some(
                s @ Source {
                    op: Op::Any(args),
                    plain: true,
                    ..
                },
            ) if !args.is_empty() && s.when.is_none() => args
                .iter()
                .map(fast_alt)
                .collect::<Option<Vec<_>>>()
                .map(|alts| FastMap { alts }),
            Some(s) => fast_alt(s).map(|a| FastMap { alts: vec![a] }),
            None => None,
        };
        let fast_any = match &source {
            Some(Source {
                op: Op::Any(args),
                when: None,
                plain: true,
                ..
            }) => args.iter().all(|a| {
                matches!(
                    a,
                    Source {
                        op: Op::Path(_),
                        when: None,
                        plain: true,
                        ..
                    }
                )
            }),
            _ => false,
        };
        let fast_const = match &source {
            Some(Source {
                op: Op::Const(c),
                when: None,
                plain: true,
                ..
            }) => match (ty, c) {
                (FieldType::Enum, Value::Str(t)) => values
                    .iter()
                    .find(|(x, _)| x == t.as_ref())
                    .map(|(_, id)| FastConst::Interned(*id)),
                (FieldType::Bool, Value::Bool(b)) => Some(FastConst::Bool(*b)),
                _ => None,
            },
            _ => None,
        };
        let fast_signed = match &source {
            Some(Source {
                op: Op::Path(p),
                when: None,
                absent_if: None,
                map: None,
                join: None,
                sign_by,
                negate,
                ..
            }) if p.base == Base::Rec
                && p.keys.len() == 1
                && ty == FieldType::Decimal
                && (sign_by.is_some() || *negate) =>
            {
                p.rec_slot
            }
            _ => None,
        };
        let default = match f.get("default").map(constant) {
            None | Some(Value::Null) => None,
            Some(d) => Some(self.const_id(d)),
        };
        Ok(Field {
            name,
            slot,
            ty,
            packed_values: values.iter().map(|(t, _)| Packed::of_plan(t)).collect(),
            values,
            case,
            required: boolean(f, "required", at)?,
            default,
            source,
            raw_slot,
            source_paths,
            fast,
            fast_root,
            fast_map,
            fast_any,
            fast_const,
            fast_signed,
            prefilled: false,
        })
    }

    fn source(&mut self, s: &V, nslots: usize, at: &str) -> R<Source> {
        let op = match str_member(s, "op", at)?.as_str() {
            "path" => Op::Path(self.path(member(s, "path", at)?, at)?),
            "const" => Op::Const(s.get("value").map(constant).unwrap_or(Value::Null)),
            "test" => Op::Test(self.cond(member(s, "cond", at)?, at)?),
            "sub" => {
                let args = array(member(s, "args", at)?, at)?;
                if args.len() < 2 {
                    return bad(at, "sub takes two operands");
                }
                Op::Sub(
                    Box::new(self.source(&args[0], nslots, &format!("{at}.args[0]"))?),
                    Box::new(self.source(&args[1], nslots, &format!("{at}.args[1]"))?),
                )
            }
            "any" => {
                let mut alts = Vec::new();
                for (i, a) in array(member(s, "args", at)?, at)?.iter().enumerate() {
                    alts.push(self.source(a, nslots, &format!("{at}.args[{i}]"))?);
                }
                Op::Any(alts)
            }
            "sign_of" => {
                let slot = index(member(s, "slot", at)?, at)?;
                if slot >= nslots {
                    return bad(at, "sign_of slot out of range");
                }
                Op::SignOf(slot)
            }
            "symbol_part" => {
                let slot = index(member(s, "slot", at)?, at)?;
                if slot >= nslots {
                    return bad(at, "symbol_part slot out of range");
                }
                Op::SymbolPart {
                    slot,
                    part: str_member(s, "part", at)?,
                }
            }
            "template" => {
                let mut parts = Vec::new();
                for p in array(member(s, "parts", at)?, at)? {
                    if let Some(t) = p.get("text") {
                        parts.push(Part::Text(string(t, at)?));
                    } else {
                        parts.push(Part::Path(self.path(member(p, "path", at)?, at)?));
                    }
                }
                Op::Template(parts)
            }
            other => return bad(at, format_args!("unknown source op {other:?}")),
        };
        let map = match opt(s, "map") {
            None => None,
            Some(m) => Some(
                json::dedup_members(obj(m, &format!("{at}.map"))?)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), constant(v)))
                    .collect(),
            ),
        };
        let sign_by = match opt(s, "sign_by") {
            None => None,
            Some(sb) => {
                let sat = format!("{at}.sign_by");
                Some(SignBy {
                    path: self.path(member(sb, "path", &sat)?, &sat)?,
                    negative: text_set(member(sb, "negative", &sat)?, &sat)?,
                    positive: text_set(member(sb, "positive", &sat)?, &sat)?,
                    ci: boolean(sb, "ci", &sat)?,
                })
            }
        };
        let when = match opt(s, "when") {
            Some(c) => Some(self.cond(c, &format!("{at}.when"))?),
            None => None,
        };
        let absent_if = opt(s, "absent_if").map(|v| text_set(v, at)).transpose()?;
        let join = opt_str(s, "join", at)?;
        let negate = boolean(s, "negate", at)?;
        let plain =
            absent_if.is_none() && map.is_none() && join.is_none() && sign_by.is_none() && !negate;
        Ok(Source {
            op,
            when,
            absent_if,
            map,
            ci: boolean(s, "ci", at)?,
            join,
            sign_by,
            negate,
            plain,
        })
    }

    /// A condition; inside an emit, its parts that read only the frame root become
    /// [`Cond::Frame`].
    fn cond(&mut self, c: &V, at: &str) -> R<Cond> {
        let c = self.cond_raw(c, at)?;
        Ok(if self.emit_keys.is_some() {
            self.frame_wrap(c)
        } else {
            c
        })
    }

    fn frame_wrap(&mut self, c: Cond) -> Cond {
        fn root_only(c: &Cond) -> bool {
            match c {
                Cond::Frame { .. } => true,
                Cond::Any(cs) | Cond::All(cs) => cs.iter().all(root_only),
                Cond::Not(x) => root_only(x),
                Cond::Exists { path, .. } | Cond::Is { path, .. } | Cond::Cmp { path, .. } => {
                    path.base == Base::Root
                }
            }
        }
        if root_only(&c) {
            self.frame_conds += 1;
            return Cond::Frame {
                id: self.frame_conds - 1,
                cond: Box::new(c),
            };
        }
        match c {
            Cond::Any(cs) => Cond::Any(cs.into_iter().map(|x| self.frame_wrap(x)).collect()),
            Cond::All(cs) => Cond::All(cs.into_iter().map(|x| self.frame_wrap(x)).collect()),
            Cond::Not(x) => Cond::Not(Box::new(self.frame_wrap(*x))),
            other => other,
        }
    }

    fn cond_raw(&mut self, c: &V, at: &str) -> R<Cond> {
        let op = str_member(c, "op", at)?;
        Ok(match op.as_str() {
            "any" | "all" => {
                let mut conds = Vec::new();
                for (i, x) in array(member(c, "conds", at)?, at)?.iter().enumerate() {
                    conds.push(self.cond_raw(x, &format!("{at}.conds[{i}]"))?);
                }
                if op == "any" {
                    Cond::Any(conds)
                } else {
                    Cond::All(conds)
                }
            }
            "not" => Cond::Not(Box::new(
                self.cond_raw(member(c, "cond", at)?, &format!("{at}.cond"))?,
            )),
            "exists" => Cond::Exists {
                path: self.path(member(c, "path", at)?, at)?,
                value: matches!(member(c, "value", at)?, Value::Bool(true)),
            },
            "is" => Cond::Is {
                path: self.path(member(c, "path", at)?, at)?,
                ty: match str_member(c, "type", at)?.as_str() {
                    "string" => JsonType::String,
                    "number" => JsonType::Number,
                    "bool" => JsonType::Bool,
                    "null" => JsonType::Null,
                    "object" => JsonType::Object,
                    _ => JsonType::Array,
                },
            },
            "eq" | "ne" | "prefix" => {
                let values: Vec<String> = array(member(c, "values", at)?, at)?
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                Cond::Cmp {
                    op: match op.as_str() {
                        "eq" => CmpOp::Eq,
                        "ne" => CmpOp::Ne,
                        _ => CmpOp::Prefix,
                    },
                    path: self.path(member(c, "path", at)?, at)?,
                    packed: values.iter().map(|t| Packed::of_plan(t)).collect(),
                    values,
                    ci: boolean(c, "ci", at)?,
                    before: opt_str(c, "before", at)?,
                }
            }
            other => return bad(at, format_args!("unknown condition op {other:?}")),
        })
    }

    fn path(&mut self, p: &V, at: &str) -> R<Path> {
        let base = match str_member(p, "base", at)?.as_str() {
            "rec" => Base::Rec,
            "root" => Base::Root,
            "parent" => Base::Parent,
            _ => Base::Key,
        };
        let mut keys = Vec::new();
        for k in array(member(p, "keys", at)?, at)? {
            let key = string(k, at)?;
            let id = self.keys.intern(&key);
            let index = list_index(&key);
            keys.push(PathKey { key, id, index });
        }
        fn slot_in(list: &mut Vec<u32>, id: u32) -> Option<u16> {
            let slot = match list.iter().position(|&k| k == id) {
                Some(i) => i,
                None => {
                    list.push(id);
                    list.len() - 1
                }
            };
            u16::try_from(slot).ok().filter(|&s| s != NO_SLOT)
        }
        let mut rec_slot = None;
        let mut root_slot = None;
        if let Some(first) = keys.first() {
            match (base, self.emit_keys.as_mut()) {
                (Base::Rec, Some(emit_keys)) => rec_slot = slot_in(emit_keys, first.id),
                (Base::Rec, None) | (Base::Root | Base::Parent, _) => {
                    root_slot = slot_in(&mut self.root_keys, first.id)
                }
                _ => {}
            }
        }
        Ok(Path {
            base,
            keys,
            rec_slot,
            root_slot,
        })
    }
}

/// Mark the fields whose value is always their default and that no other field of the emit
/// can observe or overwrite (sign_of and symbol_part read slots; raw symbols and repeated slots
/// write them): setting those before the fields run gives the same slots.
fn prefill(fields: &mut [Field]) {
    fn reads(s: &Source, out: &mut Vec<usize>) {
        match &s.op {
            Op::SignOf(slot) | Op::SymbolPart { slot, .. } => out.push(*slot),
            Op::Sub(a, b) => {
                reads(a, out);
                reads(b, out);
            }
            Op::Any(args) => args.iter().for_each(|a| reads(a, out)),
            _ => {}
        }
    }
    let mut touched = Vec::new();
    for f in fields.iter() {
        if let Some(s) = &f.source {
            reads(s, &mut touched);
        }
        touched.extend(f.raw_slot);
    }
    for i in 0..fields.len() {
        let slot = fields[i].slot;
        let shared = fields
            .iter()
            .enumerate()
            .any(|(j, g)| j != i && g.slot == slot);
        let f = &mut fields[i];
        f.prefilled =
            f.source.is_none() && !f.required && slot > 1 && !shared && !touched.contains(&slot);
    }
}

/// `int(k)` for a key of ASCII digits (a list index: `k.isascii() and k.isdigit()`), saturating.
fn list_index(key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let mut n: usize = 0;
    for c in key.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.saturating_mul(10).saturating_add(usize::from(c - b'0'));
    }
    Some(n)
}

fn source_paths(src: Option<&Source>) -> String {
    let Some(s) = src else {
        return "no source".to_owned();
    };
    match &s.op {
        Op::Path(p) => {
            let prefix = match p.base {
                Base::Rec => "",
                Base::Root => "$.",
                Base::Parent => "^.",
                Base::Key => "@key",
            };
            let keys: Vec<&str> = p.keys.iter().map(|k| k.key.as_str()).collect();
            format!("{prefix}{}", keys.join("."))
        }
        Op::Any(args) => args
            .iter()
            .map(|a| source_paths(Some(a)))
            .collect::<Vec<_>>()
            .join(" | "),
        Op::Sub(a, b) => format!("{} | {}", source_paths(Some(a)), source_paths(Some(b))),
        Op::Const(_) => "const".to_owned(),
        Op::Test(_) => "test".to_owned(),
        Op::SignOf(_) => "sign_of".to_owned(),
        Op::SymbolPart { .. } => "symbol_part".to_owned(),
        Op::Template(_) => "template".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"{
      "format": 1,
      "kinds": {"heartbeat": {"class": "Heartbeat", "fields": ["exchange", "ts", "reply"]}},
      "exchanges": {"zz": {
        "symbols": [{"regex": "^(?P<base>[a-z]+)_(?P<quote>[a-z]+)$", "template": "{base}/{quote}"}],
        "topic_keys": [{"base": "rec", "keys": ["topic"]}],
        "envelope_ts": [],
        "text_frames": {"ping": {"kind": "heartbeat", "reply": "pong"}},
        "routes": [{"channel": "ping", "when": {"op": "eq", "path": {"base": "rec", "keys": ["op"]},
                     "values": ["ping"], "ci": false, "before": null},
                    "emits": [{"kind": "heartbeat", "records": [], "when": null, "fields": [
                      {"name": "reply", "slot": 2, "type": "str", "values": null, "case": null,
                       "required": false, "default": 1.5, "raw_slot": null,
                       "source": {"op": "const", "value": "x", "when": null, "absent_if": null,
                                  "map": {"a": 1, "a": 2}, "ci": false, "join": null,
                                  "sign_by": null, "negate": false}}]}]}]
      }}
    }"#;

    #[test]
    fn loads_a_small_plan() {
        let plan = Plan::from_json(MINI).unwrap();
        assert_eq!(plan.known(), "zz");
        let (_, ex) = &plan.exchanges[0];
        assert_eq!(ex.max_text_frame, 4);
        assert_eq!(ex.symbols[0].groups, ["base", "quote"]);
        assert_eq!(
            plan.consts[ex.text_frames[0].reply as usize],
            Value::Str("pong".into())
        );
        let f = &ex.routes[0].emits[0].fields[0];
        assert_eq!(
            plan.consts[f.default.unwrap() as usize],
            Value::PyFloat(1.5)
        );
        let src = f.source.as_ref().unwrap();
        assert_eq!(src.lookup("a"), Some(&Value::Int("2".into())));
        assert_eq!(f.source_paths, "const");
        assert!(plan.keys.lookup("topic") > 0 && plan.keys.lookup("op") > 0);
    }

    #[test]
    fn refuses_bad_plans() {
        assert!(Plan::from_json("{").is_err());
        assert!(Plan::from_json(&MINI.replace("\"format\": 1", "\"format\": 2")).is_err());
        assert!(Plan::from_json(&MINI.replace("\"slot\": 2", "\"slot\": 3")).is_err());
        assert!(Plan::from_json(&MINI.replace("\"op\": \"const\"", "\"op\": \"nope\"")).is_err());
        let lookahead = MINI.replace("^(?P<base>", "^(?=a)(?P<base>");
        assert!(Plan::from_json(&lookahead).unwrap_err().0.contains("regex"));
    }

    #[test]
    fn list_indexes() {
        assert_eq!(list_index("12"), Some(12));
        assert_eq!(list_index("٣"), None);
        assert_eq!(list_index("007"), Some(7));
        assert_eq!(list_index("a1"), None);
        assert_eq!(list_index(""), None);
    }
}
