//! Rate and budget counters: calls per agent and per agent × action, counted
//! on allowed decisions, and cost units the host records, over sliding
//! windows. The engine puts them into every agent request's context as
//! `context.usage`, so ordinary forbids cap them.
//!
//! Each window is a ring of time buckets; a bucket is one `AtomicU64` holding
//! its bucket number (high 32 bits) and its count (low 32 bits, saturating),
//! so a check reads and counts without a lock and a stale bucket is recycled
//! in the same atomic step that counts into it. A window's total is the sum of
//! its current bucket and the `buckets` before it: it covers at least the
//! window and at most one bucket more (it never under-counts). Each window
//! keeps that total as it counts; the first check in a new bucket empties the
//! buckets that left the window. Memory is fixed per agent and per agent ×
//! action used; a check does a fixed number of atomic operations per window
//! (plus one pass over the window's buckets when a bucket begins).
//!
//! A check reserves its call before Cedar runs (the count it sees is the
//! count before it, and concurrent checks see distinct counts) and gives the
//! reservation back unless the decision allows: a cap is exact under
//! concurrency, and a racing check may see a call being denied for a moment
//! (never fewer calls than were allowed).
//!
//! Time is the engine clock, never a request's `now`; it never goes back: if
//! the clock steps back, the windows hold still until it catches up.
//! Counters live in memory: a restart starts them at zero, a reload keeps them.

use super::cache::FxMap;
use crate::error::{Error, ErrorCode, Result};
use cedar_policy::EntityUid;
use cedar_policy_core::ast;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use crate::schema::USAGE_KINDS;
const KINDS: usize = USAGE_KINDS.len();

/// The most units one `record_usage` call may record.
pub const MAX_UNITS_PER_RECORD: u64 = 1_000_000_000;

/// A sliding window: `buckets` buckets of `width` seconds, plus the current one.
#[derive(Debug, Clone, Copy)]
struct Window {
    width: u64,
    buckets: u32,
}

/// 1 minute in 5-second buckets, 1 hour in 1-minute buckets, 1 day in
/// 30-minute buckets.
const MINUTE: Window = Window {
    width: 5,
    buckets: 12,
};
const HOUR: Window = Window {
    width: 60,
    buckets: 60,
};
const DAY: Window = Window {
    width: 1800,
    buckets: 48,
};

/// How a bucket's `u64` is split: the low `count_bits` hold the count
/// (saturating), the rest the bucket number modulo its range (compared
/// modulo, so a bucket is mistaken for another only if it stayed untouched
/// for a whole range: 680 years for calls, 31 years for units).
#[derive(Debug, Clone, Copy)]
struct Packing {
    count_bits: u32,
}

/// Calls: 32-bit counts (4 billion calls per bucket).
const CALLS: Packing = Packing { count_bits: 32 };
/// Cost units: 40-bit counts (10^12 units per bucket).
const UNITS: Packing = Packing { count_bits: 40 };

impl Packing {
    fn count_max(self) -> u64 {
        (1u64 << self.count_bits) - 1
    }

    fn tag_mask(self) -> u64 {
        (1u64 << (64 - self.count_bits)) - 1
    }

    fn pack(self, bucket: u64, count: u64) -> u64 {
        ((bucket & self.tag_mask()) << self.count_bits) | count.min(self.count_max())
    }

    fn unpack(self, v: u64) -> (u64, u64) {
        (v >> self.count_bits, v & self.count_max())
    }

    /// How many buckets `tag` is behind `bucket` (0: the same), modulo.
    fn age(self, bucket: u64, tag: u64) -> u64 {
        bucket.wrapping_sub(tag) & self.tag_mask()
    }

    /// How many buckets `tag` is ahead of `bucket`, modulo.
    fn ahead(self, bucket: u64, tag: u64) -> u64 {
        tag.wrapping_sub(bucket) & self.tag_mask()
    }
}

/// One window's buckets, and their running total.
#[derive(Debug)]
struct Ring {
    window: Window,
    packing: Packing,
    slots: Box<[AtomicU64]>,
    /// The sum of the slots' counts, kept with every change of a slot (read
    /// as signed: a racing recycle may take a count out before it is added).
    total: AtomicU64,
    /// One more than the latest bucket whose expired slots were emptied.
    swept: AtomicU64,
}

impl Ring {
    fn new(window: Window, packing: Packing) -> Ring {
        let n = usize::try_from(window.buckets).unwrap_or(0) + 1;
        Ring {
            window,
            packing,
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            swept: AtomicU64::new(0),
        }
    }

    fn bucket(&self, secs: u64) -> u64 {
        secs / self.window.width
    }

    fn index(&self, bucket: u64) -> usize {
        usize::try_from(bucket % self.slots.len() as u64).unwrap_or(0)
    }

    /// Whether a bucket tagged `tag` counts in the window ending in `bucket`:
    /// at most `buckets` behind, or a little ahead (a check racing across a
    /// bucket edge counted there).
    fn live(&self, bucket: u64, tag: u64) -> bool {
        let n = u64::from(self.window.buckets);
        self.packing.age(bucket, tag) <= n || self.packing.ahead(bucket, tag) <= n
    }

    fn total(&self) -> u64 {
        // Two's complement: a transiently negative total reads as 0.
        let t = self.total.load(Ordering::Acquire);
        if t > u64::MAX / 2 {
            0
        } else {
            t
        }
    }

    /// Empties the slots that left the window by `bucket`, once per bucket:
    /// the running total is then the window's total. A slot is emptied by
    /// one compare-and-swap, here or in `add`, so each count leaves once.
    fn sweep(&self, bucket: u64) {
        let next = bucket.saturating_add(1);
        if self.swept.load(Ordering::Acquire) >= next
            || self.swept.fetch_max(next, Ordering::AcqRel) >= next
        {
            return;
        }
        for slot in self.slots.iter() {
            self.empty_if_stale(slot);
        }
    }

    /// Empties `slot` if its bucket is out of the window of the latest bucket
    /// swept (judged then, so a newer sweep running at the same time wins).
    fn empty_if_stale(&self, slot: &AtomicU64) {
        let p = self.packing;
        let mut gone = 0;
        let emptied = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
            let latest = self.swept.load(Ordering::Acquire).checked_sub(1)?;
            let (tag, count) = p.unpack(v);
            gone = count;
            (v != 0 && !self.live(latest, tag)).then_some(0)
        });
        if emptied.is_ok() {
            self.total.fetch_sub(gone, Ordering::AcqRel);
        }
    }

    /// Counts `n` in the bucket of `secs`; returns the bucket and, when
    /// `sum`, the window's total before this count (else 0).
    fn add(&self, secs: u64, n: u64, sum: bool) -> (u64, u64) {
        let bucket = self.bucket(secs);
        self.sweep(bucket);
        let index = self.index(bucket);
        let p = self.packing;
        let (mut recycled, mut added) = (0, 0);
        if let Some(slot) = self.slots.get(index) {
            let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                let (tag, count) = p.unpack(v);
                if v != 0 && p.ahead(bucket, tag) <= u64::from(self.window.buckets) {
                    // This bucket, or a later one a racing check started:
                    // counted there, which keeps it longer, never shorter.
                    recycled = 0;
                    added = n.min(p.count_max() - count);
                    Some(p.pack(tag, count.saturating_add(n)))
                } else {
                    // Empty, or an old bucket a sweep has not reached.
                    recycled = if v == 0 { 0 } else { count };
                    added = n.min(p.count_max());
                    Some(p.pack(bucket, n))
                }
            });
        }
        if recycled > 0 {
            self.total.fetch_sub(recycled, Ordering::AcqRel);
        }
        let before = self.total.fetch_add(added, Ordering::AcqRel);
        // A check that lagged a whole window behind a sweep counted into a
        // bucket that sweep has passed: empty it, or the total keeps it.
        if let Some(slot) = self.slots.get(index) {
            self.empty_if_stale(slot);
        }
        if !sum {
            return (bucket, 0);
        }
        (bucket, if before > u64::MAX / 2 { 0 } else { before })
    }

    /// Takes back `n` counted in `bucket`, if that bucket is still there.
    fn remove(&self, bucket: u64, n: u64) {
        let p = self.packing;
        if let Some(slot) = self.slots.get(self.index(bucket)) {
            let taken = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                let (tag, count) = p.unpack(v);
                (v != 0 && p.age(bucket, tag) == 0 && count >= n && count < p.count_max())
                    .then(|| p.pack(tag, count - n))
            });
            if taken.is_ok() {
                self.total.fetch_sub(n, Ordering::AcqRel);
            }
        }
    }

    /// The window's total at `secs`.
    fn sum(&self, secs: u64) -> u64 {
        self.sweep(self.bucket(secs));
        self.total()
    }

    /// Forgets every bucket, then holds `value` in the bucket of `secs`.
    fn set(&self, secs: u64, value: u64) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Release);
        }
        let bucket = self.bucket(secs);
        let value = value.min(self.packing.count_max());
        if let Some(slot) = self.slots.get(self.index(bucket)) {
            if value > 0 {
                slot.store(self.packing.pack(bucket, value), Ordering::Release);
            }
        }
        self.total.store(value, Ordering::Release);
        self.swept
            .fetch_max(bucket.saturating_add(1), Ordering::AcqRel);
    }
}

/// Calls over the three windows.
#[derive(Debug)]
struct Calls([Ring; 3]);

impl Calls {
    fn new() -> Calls {
        Calls([
            Ring::new(MINUTE, CALLS),
            Ring::new(HOUR, CALLS),
            Ring::new(DAY, CALLS),
        ])
    }

    /// Counts a call; `sums` says which windows' totals to return (the
    /// minute, the hour, the day), the others are 0.
    fn add(&self, secs: u64, [m, h, d]: [bool; 3]) -> ([u64; 3], CallCounts) {
        let [(b0, m), (b1, h), (b2, d)] = [
            self.0[0].add(secs, 1, m),
            self.0[1].add(secs, 1, h),
            self.0[2].add(secs, 1, d),
        ];
        ([b0, b1, b2], CallCounts::new(m, h, d))
    }

    fn remove(&self, buckets: [u64; 3]) {
        for (ring, bucket) in self.0.iter().zip(buckets) {
            ring.remove(bucket, 1);
        }
    }

    fn sum(&self, secs: u64) -> CallCounts {
        CallCounts::new(
            self.0[0].sum(secs),
            self.0[1].sum(secs),
            self.0[2].sum(secs),
        )
    }

    fn set(&self, secs: u64, c: &CallCounts) {
        self.0[0].set(secs, c.calls_1m);
        self.0[1].set(secs, c.calls_1h);
        self.0[2].set(secs, c.calls_1d);
    }
}

/// Everything counted for one agent.
#[derive(Debug)]
struct AgentUsage {
    calls: Calls,
    /// Per kind: the hour and the day.
    units: [[Ring; 2]; KINDS],
    /// By the action's uid: every spelling of an action counts as one.
    actions: RwLock<FxMap<EntityUid, Arc<Calls>>>,
}

impl AgentUsage {
    fn new() -> AgentUsage {
        AgentUsage {
            calls: Calls::new(),
            units: std::array::from_fn(|_| [Ring::new(HOUR, UNITS), Ring::new(DAY, UNITS)]),
            actions: RwLock::default(),
        }
    }

    fn action(&self, action: &EntityUid, create: bool) -> Option<Arc<Calls>> {
        if let Some(c) = read(&self.actions).get(action) {
            return Some(Arc::clone(c));
        }
        if !create {
            return None;
        }
        let mut map = self.actions.write().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(
            map.entry(action.clone())
                .or_insert_with(|| Arc::new(Calls::new())),
        ))
    }

    /// The units of the hour and of the day (when `hour`, `day`; else 0).
    fn units(&self, secs: u64, [hour_read, day_read]: [bool; 2]) -> (Units, Units) {
        let mut hour = [0; KINDS];
        let mut day = [0; KINDS];
        for (k, [h, d]) in self.units.iter().enumerate() {
            if let (Some(hs), Some(ds)) = (hour.get_mut(k), day.get_mut(k)) {
                if hour_read {
                    *hs = h.sum(secs);
                }
                if day_read {
                    *ds = d.sum(secs);
                }
            }
        }
        (Units::from_array(hour), Units::from_array(day))
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Counters are atomics: a panic elsewhere leaves the map itself whole.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

const SHARDS: usize = 16;

/// One shard of the agents' counters, by agent id.
type Shard = RwLock<FxMap<Box<str>, Arc<AgentUsage>>>;

/// The engine's counters. Survives reloads; lives in memory only.
#[derive(Debug)]
pub(crate) struct Usage {
    shards: Box<[Shard]>,
    /// The latest second seen: usage time never goes back.
    high_water: AtomicU64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            high_water: AtomicU64::new(0),
        }
    }
}

/// Calls in the three windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct CallCounts {
    pub calls_1m: u64,
    pub calls_1h: u64,
    pub calls_1d: u64,
}

impl CallCounts {
    fn new(calls_1m: u64, calls_1h: u64, calls_1d: u64) -> CallCounts {
        CallCounts {
            calls_1m,
            calls_1h,
            calls_1d,
        }
    }

    /// The record of the windows `[minute, hour, day]` says.
    fn value(&self, [m, h, d]: [bool; 3]) -> ast::Value {
        record(
            &CALLS_SHAPES,
            [
                ("calls_1d", d.then_some(self.calls_1d)),
                ("calls_1h", h.then_some(self.calls_1h)),
                ("calls_1m", m.then_some(self.calls_1m)),
            ],
        )
    }
}

/// Cost units by kind (see [`USAGE_KINDS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Units {
    pub tokens: u64,
    pub usd_cents: u64,
}

impl Units {
    fn from_array([tokens, usd_cents]: [u64; KINDS]) -> Units {
        Units { tokens, usd_cents }
    }

    fn to_array(self) -> [u64; KINDS] {
        [self.tokens, self.usd_cents]
    }

    fn value(&self) -> ast::Value {
        // Most agents record no units: one shared zero record.
        static ZERO: std::sync::OnceLock<ast::Value> = std::sync::OnceLock::new();
        let value = || {
            record(
                &UNITS_SHAPES,
                [
                    ("tokens", Some(self.tokens)),
                    ("usd_cents", Some(self.usd_cents)),
                ],
            )
        };
        if *self == Units::default() {
            return ZERO.get_or_init(value).clone();
        }
        value()
    }
}

/// What `context.usage` holds for a request: the agent's calls (every
/// action), its calls of the request's action, and its cost units, each as
/// counted before this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct UsageCounts {
    pub calls_1m: u64,
    pub calls_1h: u64,
    pub calls_1d: u64,
    /// The request's action only.
    pub action: CallCounts,
    pub units_1h: Units,
    pub units_1d: Units,
}

fn long(n: u64) -> ast::Value {
    ast::Value::from(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One record shape: its map (keys in order, values to overwrite), built
/// once; `None` when the fields were not given in key order.
type Shape = std::sync::OnceLock<Option<std::collections::BTreeMap<smol_str::SmolStr, ast::Value>>>;

/// A shape for each subset of a record's fields (by bit of field position).
static CALLS_SHAPES: [Shape; 8] = [const { Shape::new() }; 8];
static UNITS_SHAPES: [Shape; 4] = [const { Shape::new() }; 4];
static USAGE_SHAPES: [Shape; 64] = [const { Shape::new() }; 64];

fn record<const N: usize>(
    shapes: &'static [Shape],
    fields: [(&str, Option<u64>); N],
) -> ast::Value {
    record_of(shapes, fields.map(|(k, v)| (k, v.map(long))))
}

/// A record of the fields that are `Some`, given in key order, on every check
/// that reads `context.usage`: a copy of the shape's map with the values put
/// in place, so no key is compared.
fn record_of<const N: usize>(
    shapes: &'static [Shape],
    fields: [(&str, Option<ast::Value>); N],
) -> ast::Value {
    let mask = fields
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| v.is_some())
        .fold(0usize, |m, (i, _)| m | (1 << i));
    let template = shapes.get(mask).and_then(|shape| {
        shape
            .get_or_init(|| {
                let keys: Vec<&str> = fields
                    .iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(k, _)| *k)
                    .collect();
                let in_order = keys.windows(2).all(|w| matches!(w, [a, b] if a < b));
                in_order.then(|| keys.iter().map(|k| ((*k).into(), long(0))).collect())
            })
            .as_ref()
    });
    let present = fields.into_iter().filter_map(|(k, v)| Some((k, v?)));
    let map = match template {
        Some(template) => {
            let mut map = template.clone();
            for (slot, (_, v)) in map.values_mut().zip(present) {
                *slot = v;
            }
            map
        }
        // Not in key order (a bug the tests catch): still the right record.
        None => present.map(|(k, v)| (k.into(), v)).collect(),
    };
    ast::Value::record_arc(Arc::new(map), None)
}

impl UsageCounts {
    fn calls(&self) -> CallCounts {
        CallCounts::new(self.calls_1m, self.calls_1h, self.calls_1d)
    }

    /// The Cedar value of `context.usage`: with `UsageReads::ALL`, every
    /// field; else only the fields `reads` names, all that policies can see.
    pub(crate) fn value(&self, reads: UsageReads) -> ast::Value {
        let [m, h, d] = reads.calls();
        let action = reads.action();
        let [uh, ud] = reads.units();
        record_of(
            &USAGE_SHAPES,
            [
                (
                    "action",
                    action.contains(&true).then(|| self.action.value(action)),
                ),
                ("calls_1d", d.then(|| long(self.calls_1d))),
                ("calls_1h", h.then(|| long(self.calls_1h))),
                ("calls_1m", m.then(|| long(self.calls_1m))),
                ("units_1d", ud.then(|| self.units_1d.value())),
                ("units_1h", uh.then(|| self.units_1h.value())),
            ],
        )
    }

    /// The JSON form of `context.usage` (for Cedar's own context parser).
    pub(crate) fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Which windows of `context.usage` the policies read (see
/// `context::usage_reads`): a check sums only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UsageReads(u8);

/// A field of `context.usage`.
pub(crate) enum UsageField {
    /// A number, or a record's number: the window it reads.
    Read(UsageReads),
    /// `action`, `units_1h`, `units_1d`: a record of numbers.
    Record,
}

impl UsageReads {
    pub const NONE: UsageReads = UsageReads(0);
    pub const ALL: UsageReads = UsageReads(u8::MAX);
    const CALLS: [u8; 3] = [1, 2, 4];
    const ACTION: [u8; 3] = [8, 16, 32];
    const UNITS: [u8; 2] = [64, 128];

    fn window(name: &str) -> Option<usize> {
        ["calls_1m", "calls_1h", "calls_1d"]
            .iter()
            .position(|w| *w == name)
    }

    /// What reading `context.usage.<name>` reads; `None` for a name it has not.
    pub fn field(name: &str) -> Option<UsageField> {
        match name {
            "action" | "units_1h" | "units_1d" => Some(UsageField::Record),
            _ => Self::window(name)
                .and_then(|i| Self::CALLS.get(i))
                .map(|b| UsageField::Read(UsageReads(*b))),
        }
    }

    /// What reading `context.usage.<record>.<name>` reads; `None` for a
    /// name the record has not.
    pub fn record_field(record: &str, name: &str) -> Option<UsageReads> {
        let bit = match record {
            "action" => Self::ACTION.get(Self::window(name)?)?,
            "units_1h" | "units_1d" if USAGE_KINDS.contains(&name) => {
                Self::UNITS.get(usize::from(record == "units_1d"))?
            }
            _ => return None,
        };
        Some(UsageReads(*bit))
    }

    pub fn union(self, other: UsageReads) -> UsageReads {
        UsageReads(self.0 | other.0)
    }

    fn bits<const N: usize>(self, bits: [u8; N]) -> [bool; N] {
        bits.map(|b| self.0 & b != 0)
    }

    fn calls(self) -> [bool; 3] {
        self.bits(Self::CALLS)
    }

    fn action(self) -> [bool; 3] {
        self.bits(Self::ACTION)
    }

    fn units(self) -> [bool; 2] {
        self.bits(Self::UNITS)
    }
}

/// One number of `context.usage` as a policy names it
/// (`context.usage.calls_1h`, `context.usage.action.calls_1m`,
/// `context.usage.units_1d.tokens`), resolved once when a bundle loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UsageNumber {
    Calls(usize),
    Action(usize),
    /// The window (1h, 1d) and the kind's position in [`USAGE_KINDS`].
    Units(usize, usize),
}

impl UsageNumber {
    /// `context.usage.<name>` (`record` `None`) or
    /// `context.usage.<record>.<name>`; `None` when that is not a number.
    pub fn named(record: Option<&str>, name: &str) -> Option<UsageNumber> {
        Some(match record {
            None => UsageNumber::Calls(UsageReads::window(name)?),
            Some("action") => UsageNumber::Action(UsageReads::window(name)?),
            Some(r @ ("units_1h" | "units_1d")) => UsageNumber::Units(
                usize::from(r == "units_1d"),
                USAGE_KINDS.iter().position(|k| *k == name)?,
            ),
            Some(_) => return None,
        })
    }

    /// The window a check sums to know this number.
    fn reads(self) -> UsageReads {
        let bit = match self {
            UsageNumber::Calls(w) => UsageReads::CALLS.get(w),
            UsageNumber::Action(w) => UsageReads::ACTION.get(w),
            UsageNumber::Units(w, _) => UsageReads::UNITS.get(w),
        };
        UsageReads(bit.copied().unwrap_or(0))
    }
}

impl UsageCounts {
    /// The number as `context.usage` holds it for a check that summed the
    /// windows `reads`; `None` when its window was not summed.
    pub(crate) fn number(&self, n: UsageNumber, reads: UsageReads) -> Option<i64> {
        if reads.0 & n.reads().0 == 0 {
            return None;
        }
        let calls = |c: &CallCounts, w: usize| [c.calls_1m, c.calls_1h, c.calls_1d].get(w).copied();
        let value = match n {
            UsageNumber::Calls(w) => calls(&self.calls(), w)?,
            UsageNumber::Action(w) => calls(&self.action, w)?,
            UsageNumber::Units(w, kind) => {
                let units = if w == 0 { self.units_1h } else { self.units_1d };
                units.to_array().get(kind).copied()?
            }
        };
        // As `long` puts it into the record.
        Some(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

/// A check's call, counted before Cedar ran; given back on drop unless
/// [`Reservation::commit`]ted (an allow).
#[derive(Debug)]
pub(crate) struct Reservation {
    counted: Option<Counted>,
}

#[derive(Debug)]
struct Counted {
    agent: Arc<AgentUsage>,
    action: Arc<Calls>,
    buckets: [u64; 3],
}

impl Reservation {
    pub fn none() -> Reservation {
        Reservation { counted: None }
    }

    /// The call stays counted.
    pub fn commit(mut self) {
        self.counted = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(c) = self.counted.take() {
            c.agent.calls.remove(c.buckets);
            c.action.remove(c.buckets);
        }
    }
}

fn shard_of(agent: &str) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = super::cache::FxBuild.build_hasher();
    h.write(agent.as_bytes());
    usize::try_from(h.finish()).unwrap_or(0) % SHARDS
}

/// The kind's index in [`USAGE_KINDS`], or a coded error.
fn kind_index(kind: &str) -> Result<usize> {
    USAGE_KINDS.iter().position(|k| *k == kind).ok_or_else(|| {
        Error::new(
            ErrorCode::UsageInvalid,
            format!(
                "unknown usage kind {kind:?}: one of {}",
                USAGE_KINDS.join(", ")
            ),
        )
    })
}

impl Usage {
    /// The usage clock in seconds: the engine clock, never going back.
    fn seconds(&self, now_millis: i64) -> u64 {
        let secs = u64::try_from(now_millis.div_euclid(1000)).unwrap_or(0);
        let seen = self.high_water.load(Ordering::Acquire);
        if secs > seen {
            self.high_water.fetch_max(secs, Ordering::AcqRel).max(secs)
        } else {
            seen
        }
    }

    fn agent(&self, agent: &str, create: bool) -> Option<Arc<AgentUsage>> {
        let shard = self.shards.get(shard_of(agent))?;
        if let Some(a) = read(shard).get(agent) {
            return Some(Arc::clone(a));
        }
        if !create {
            return None;
        }
        let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(
            map.entry(agent.into())
                .or_insert_with(|| Arc::new(AgentUsage::new())),
        ))
    }

    /// Counts a call of `action` by `agent` (both known to the bundle: the
    /// caller checked) and returns the usage before it, with the reservation
    /// that takes it back unless committed. Only the windows `reads` names
    /// are summed (no policy can see the others, which stay 0).
    pub fn reserve(
        &self,
        agent: &str,
        action: &EntityUid,
        now_millis: i64,
        reads: UsageReads,
    ) -> (UsageCounts, Reservation) {
        let secs = self.seconds(now_millis);
        let Some(a) = self.agent(agent, true) else {
            return (UsageCounts::default(), Reservation::none());
        };
        let Some(act) = a.action(action, true) else {
            return (UsageCounts::default(), Reservation::none());
        };
        let (buckets, calls) = a.calls.add(secs, reads.calls());
        let (_, action_calls) = act.add(secs, reads.action());
        let units = reads.units();
        let (units_1h, units_1d) = if units.contains(&true) {
            a.units(secs, units)
        } else {
            (Units::default(), Units::default())
        };
        let counts = UsageCounts {
            calls_1m: calls.calls_1m,
            calls_1h: calls.calls_1h,
            calls_1d: calls.calls_1d,
            action: action_calls,
            units_1h,
            units_1d,
        };
        let counted = Counted {
            agent: a,
            action: act,
            buckets,
        };
        (
            counts,
            Reservation {
                counted: Some(counted),
            },
        )
    }

    /// The usage of `agent` (and of its calls of `action`) now, counting nothing.
    pub fn peek(&self, agent: &str, action: Option<&EntityUid>, now_millis: i64) -> UsageCounts {
        let secs = self.seconds(now_millis);
        let Some(a) = self.agent(agent, false) else {
            return UsageCounts::default();
        };
        let calls = a.calls.sum(secs);
        let action = action
            .and_then(|act| a.action(act, false))
            .map(|c| c.sum(secs))
            .unwrap_or_default();
        let (units_1h, units_1d) = a.units(secs, [true, true]);
        UsageCounts {
            calls_1m: calls.calls_1m,
            calls_1h: calls.calls_1h,
            calls_1d: calls.calls_1d,
            action,
            units_1h,
            units_1d,
        }
    }

    /// Records `units` of `kind` spent by `agent` (known to the bundle: the
    /// caller checked).
    pub fn record(&self, agent: &str, units: u64, kind: &str, now_millis: i64) -> Result<()> {
        let (k, n) = check_record(units, kind)?;
        if n == 0 {
            return Ok(());
        }
        let secs = self.seconds(now_millis);
        if let Some([h, d]) = self
            .agent(agent, true)
            .as_deref()
            .and_then(|a| a.units.get(k))
        {
            h.add(secs, n, false);
            d.add(secs, n, false);
        }
        Ok(())
    }

    /// Sets the counters of `agent` (and of `action`) to `counts` as of now
    /// (policy tests' `usage:` presets).
    pub fn preset(&self, agent: &str, action: &EntityUid, counts: &UsageCounts, now_millis: i64) {
        let secs = self.seconds(now_millis);
        let Some(a) = self.agent(agent, true) else {
            return;
        };
        a.calls.set(secs, &counts.calls());
        if let Some(act) = a.action(action, true) {
            act.set(secs, &counts.action);
        }
        let (h, d) = (counts.units_1h.to_array(), counts.units_1d.to_array());
        for (k, [hr, dr]) in a.units.iter().enumerate() {
            hr.set(secs, h.get(k).copied().unwrap_or(0));
            dr.set(secs, d.get(k).copied().unwrap_or(0));
        }
    }

    /// Forgets every counter.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            shard.write().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Forgets the counters of agents `keep` says no longer exist (reload).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        for shard in self.shards.iter() {
            shard
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|k, _| keep(k));
        }
    }
}

/// The kind's index and the units, when both are acceptable.
pub(crate) fn check_record(units: u64, kind: &str) -> Result<(usize, u64)> {
    Ok((kind_index(kind)?, check_units(units)?))
}

/// Units one record may add: a whole number from 0 to [`MAX_UNITS_PER_RECORD`].
fn check_units(units: u64) -> Result<u64> {
    if units > MAX_UNITS_PER_RECORD {
        return Err(Error::new(
            ErrorCode::UsageInvalid,
            format!("{units} units in one record: at most {MAX_UNITS_PER_RECORD}"),
        ));
    }
    Ok(units)
}

/// Units given as a JSON number (bindings): a whole, non-negative number no
/// larger than [`MAX_UNITS_PER_RECORD`]; anything else (negative, fractional,
/// NaN, infinite, huge) is `usage_invalid`.
pub fn units_of_f64(units: f64) -> Result<u64> {
    let bad = || {
        Error::new(
            ErrorCode::UsageInvalid,
            format!("units must be a whole number from 0 to {MAX_UNITS_PER_RECORD}, got {units}"),
        )
    };
    if !units.is_finite()
        || units < 0.0
        || units.fract() != 0.0
        || units > MAX_UNITS_PER_RECORD as f64
    {
        return Err(bad());
    }
    // Whole and within bounds: the cast is exact.
    Ok(units as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn a_window_counts_at_least_its_length_and_at_most_one_bucket_more() {
        let ring = Ring::new(HOUR, CALLS);
        let t0 = 1_800_000_000u64 / 60 * 60; // a bucket edge
        ring.add(t0, 1, true);
        // 59:59 later: still counted.
        assert_eq!(ring.sum(t0 + 3599), 1);
        // Exactly one hour later, the bucket is still in the window (one bucket more).
        assert_eq!(ring.sum(t0 + 3600), 1);
        assert_eq!(ring.sum(t0 + 3659), 1);
        // An hour and a bucket later, gone.
        assert_eq!(ring.sum(t0 + 3660), 0);
    }

    #[test]
    fn a_recycled_bucket_forgets_its_old_count() {
        let ring = Ring::new(MINUTE, CALLS);
        ring.add(1000, 3, true);
        // 13 buckets of 5 s later the same slot is reused.
        let (_, before) = ring.add(1000 + 65, 1, true);
        assert_eq!(before, 0);
        assert_eq!(ring.sum(1000 + 65), 1);
    }

    fn act(id: &str) -> EntityUid {
        EntityUid::from_str(&format!("Action::{id:?}")).unwrap()
    }

    #[test]
    fn a_reservation_is_given_back_unless_committed() {
        let u = Usage::default();
        let (c, r) = u.reserve("a", &act("x"), T0, UsageReads::ALL);
        assert_eq!(c.calls_1h, 0);
        drop(r);
        let (c, r) = u.reserve("a", &act("x"), T0, UsageReads::ALL);
        assert_eq!(c.calls_1h, 0, "the dropped reservation was given back");
        r.commit();
        let (c, _r) = u.reserve("a", &act("x"), T0, UsageReads::ALL);
        assert_eq!((c.calls_1h, c.action.calls_1h), (1, 1));
        assert_eq!(u.peek("a", Some(&act("y")), T0).action.calls_1h, 0);
    }

    #[test]
    fn a_call_reserved_without_sums_is_counted_all_the_same() {
        let u = Usage::default();
        u.reserve("a", &act("x"), T0, UsageReads::ALL).1.commit();
        let (c, r) = u.reserve("a", &act("x"), T0, UsageReads::NONE);
        assert_eq!(c, UsageCounts::default());
        r.commit();
        let (c, r) = u.reserve("a", &act("x"), T0, UsageReads::NONE);
        drop(r);
        assert_eq!(c, UsageCounts::default());
        let seen = u.peek("a", Some(&act("x")), T0);
        assert_eq!((seen.calls_1m, seen.action.calls_1d), (2, 2));
    }

    #[test]
    fn usage_records_are_built_from_their_shapes_with_every_value_in_place() {
        let counts = UsageCounts {
            calls_1m: 1,
            calls_1h: 2,
            calls_1d: 3,
            action: CallCounts::new(4, 5, 6),
            units_1h: Units::from_array([7, 8]),
            units_1d: Units::from_array([9, 10]),
        };
        let calls = |c: [i64; 3]| {
            ast::Value::record(
                [("calls_1m", c[0]), ("calls_1h", c[1]), ("calls_1d", c[2])],
                None,
            )
        };
        let units = |t: i64, u: i64| ast::Value::record([("tokens", t), ("usd_cents", u)], None);
        let want = ast::Value::record(
            [
                ("calls_1m", ast::Value::from(1)),
                ("calls_1h", ast::Value::from(2)),
                ("calls_1d", ast::Value::from(3)),
                ("action", calls([4, 5, 6])),
                ("units_1h", units(7, 8)),
                ("units_1d", units(9, 10)),
            ],
            None,
        );
        // Twice: the first call builds the shapes, the second copies them.
        assert_eq!(counts.value(UsageReads::ALL), want);
        assert_eq!(counts.value(UsageReads::ALL), want);
        // Only what policies read: the agent's hour and the action's day.
        let reads = UsageReads(UsageReads::CALLS[1] | UsageReads::ACTION[2]);
        for _ in 0..2 {
            assert_eq!(
                counts.value(reads),
                ast::Value::record(
                    [
                        ("calls_1h", ast::Value::from(2)),
                        ("action", ast::Value::record([("calls_1d", 6)], None)),
                    ],
                    None,
                )
            );
        }
        assert_eq!(UsageCounts::default().value(UsageReads::ALL), {
            let zero = calls([0, 0, 0]);
            ast::Value::record(
                [
                    ("calls_1m", ast::Value::from(0)),
                    ("calls_1h", ast::Value::from(0)),
                    ("calls_1d", ast::Value::from(0)),
                    ("action", zero),
                    ("units_1h", units(0, 0)),
                    ("units_1d", units(0, 0)),
                ],
                None,
            )
        });
        for shape in CALLS_SHAPES
            .iter()
            .chain(&UNITS_SHAPES)
            .chain(&USAGE_SHAPES)
        {
            assert!(
                matches!(shape.get(), None | Some(Some(_))),
                "every shape is in key order"
            );
        }
    }

    #[test]
    fn a_check_sums_only_the_windows_policies_read() {
        let u = Usage::default();
        u.record("a", 7, "tokens", T0).unwrap();
        u.reserve("a", &act("x"), T0, UsageReads::ALL).1.commit();
        let hour = match UsageReads::field("calls_1h") {
            Some(UsageField::Read(r)) => r,
            _ => panic!("calls_1h is a window"),
        };
        let reads = hour
            .union(UsageReads::record_field("action", "calls_1d").unwrap())
            .union(UsageReads::record_field("units_1d", "tokens").unwrap());
        let (c, _r) = u.reserve("a", &act("x"), T0, reads);
        assert_eq!((c.calls_1m, c.calls_1h, c.calls_1d), (0, 1, 0));
        assert_eq!(c.action, CallCounts::new(0, 0, 1));
        assert_eq!((c.units_1h.tokens, c.units_1d.tokens), (0, 7));
        assert!(UsageReads::field("calls_1y").is_none());
        assert!(UsageReads::record_field("action", "tokens").is_none());
        assert!(UsageReads::record_field("units_1h", "calls_1h").is_none());
    }

    #[test]
    fn the_clock_going_back_holds_the_windows_still() {
        let u = Usage::default();
        u.reserve("a", &act("x"), T0, UsageReads::ALL).1.commit();
        // Back two hours: the call is still counted (not forgotten, not reset).
        assert_eq!(u.peek("a", None, T0 - 7_200_000).calls_1h, 1);
        // Forward past the window from the latest time seen: gone.
        assert_eq!(u.peek("a", None, T0 + 3_661_000).calls_1h, 0);
    }

    #[test]
    fn units_are_whole_bounded_and_of_a_known_kind() {
        let u = Usage::default();
        assert_eq!(
            u.record("a", 5, "gold", T0).unwrap_err().code,
            ErrorCode::UsageInvalid
        );
        assert_eq!(
            u.record("a", MAX_UNITS_PER_RECORD + 1, "tokens", T0)
                .unwrap_err()
                .code,
            ErrorCode::UsageInvalid
        );
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 1e18] {
            assert!(units_of_f64(bad).is_err(), "{bad}");
        }
        assert_eq!(units_of_f64(42.0).unwrap(), 42);
        u.record("a", 40, "tokens", T0).unwrap();
        u.record("a", 2, "tokens", T0 + 1000).unwrap();
        u.record("a", 7, "usd_cents", T0).unwrap();
        let c = u.peek("a", None, T0 + 2000);
        assert_eq!((c.units_1h.tokens, c.units_1d.tokens), (42, 42));
        assert_eq!(c.units_1h.usd_cents, 7);
    }

    #[test]
    fn a_full_bucket_saturates_instead_of_wrapping() {
        let ring = Ring::new(HOUR, CALLS);
        ring.add(600, u64::from(u32::MAX), true);
        ring.add(600, 5, true);
        assert_eq!(ring.sum(600), u64::from(u32::MAX));
        // A saturated bucket is not given back (it no longer knows its count).
        ring.remove(10, 1);
        assert_eq!(ring.sum(600), u64::from(u32::MAX));
        let units = Ring::new(HOUR, UNITS);
        for _ in 0..10 {
            units.add(600, MAX_UNITS_PER_RECORD, true);
        }
        assert_eq!(
            units.sum(600),
            10 * MAX_UNITS_PER_RECORD,
            "no 32-bit wrap for units"
        );
    }

    #[test]
    fn the_running_total_is_the_sum_of_the_live_buckets_under_concurrency() {
        // Threads count, give back and move across bucket edges; at the end
        // the running total equals a scan of the buckets still in the window.
        let ring = Arc::new(Ring::new(MINUTE, CALLS));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        let secs = 1_000 + i / 100 + t % 2;
                        let (bucket, _) = ring.add(secs, 1, i % 3 == 0);
                        if i % 4 == 0 {
                            ring.remove(bucket, 1);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let secs = 1_000 + 20_000 / 100 + 1;
        let bucket = ring.bucket(secs);
        let scanned: u64 = ring
            .slots
            .iter()
            .map(|s| ring.packing.unpack(s.load(Ordering::Acquire)))
            .filter(|(tag, count)| *count > 0 && ring.live(bucket, *tag))
            .map(|(_, count)| count)
            .sum();
        assert_eq!(ring.sum(secs), scanned);
        assert!(scanned > 0);
        // Idle past the window: everything leaves.
        assert_eq!(ring.sum(secs + 3_600), 0);
    }

    #[test]
    fn bucket_numbers_compare_modulo_their_range() {
        // Far in the future the tag wraps; windows still work.
        let ring = Ring::new(HOUR, UNITS);
        let far = (1u64 << 24) * 60 * 3 + 120; // past the 24-bit range of minute buckets
        ring.add(far, 4, true);
        ring.add(far + 60, 1, true);
        assert_eq!(ring.sum(far + 60), 5);
        assert_eq!(ring.sum(far + 60 + 3660), 0);
    }
}
