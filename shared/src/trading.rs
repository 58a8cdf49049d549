//! Trading: awarded schedule events, their settlement (execution rate, performance factor,
//! income) and the views of the trading routes. Pure; `guest::trading` reads the stores.
//!
//! Settlement rules (DOMAIN.md "dReg"):
//! - an event belongs to the site-local day it starts on, even when it runs past midnight;
//! - a finished event earns C × duration_h × price × factor, in integer cents (`dreg`);
//! - a running event shows its execution rate so far and no income yet; an upcoming one neither;
//! - a cancelled event earns 0;
//! - a day's total is the sum of its events' final incomes and a month's the sum of its days', so
//!   both are exact integer sums.

use serde::{Deserialize, Serialize};

use crate::dreg::{format_cents, income_cents_exact, DregParams, Execution, Mode, Sample};
use crate::error::FieldError;
use crate::params::{self, Query};
use crate::time::{days_in_month, format_iso, local_date, Date, UtcOffset};

/// The currency of every amount.
pub const CURRENCY: &str = "TWD";

/// `events.status` as the trading server keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Scheduled,
    Active,
    Completed,
    Cancelled,
}

impl EventStatus {
    pub fn parse(s: &str) -> Option<EventStatus> {
        Some(match s {
            "scheduled" => EventStatus::Scheduled,
            "active" => EventStatus::Active,
            "completed" => EventStatus::Completed,
            "cancelled" => EventStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "scheduled",
            EventStatus::Active => "active",
            EventStatus::Completed => "completed",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// One awarded event, with its DECIMAL columns as exact integers.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    /// UTC Unix seconds, `[start, end)`.
    pub start: i64,
    pub end: i64,
    pub mode: Mode,
    /// `capacity_mw` DECIMAL(8,3) × 1000.
    pub capacity_kw: i64,
    /// `capacity_price` DECIMAL(10,2) × 100, TWD per MW·h.
    pub price_cents: i64,
    pub status: EventStatus,
}

impl Event {
    pub fn duration_s(&self) -> i64 {
        (self.end - self.start).max(0)
    }

    pub fn capacity_mw(&self) -> f64 {
        self.capacity_kw as f64 / 1000.0
    }

    pub fn hours(&self) -> f64 {
        self.duration_s() as f64 / 3600.0
    }

    /// The site-local day the event counts on.
    pub fn day(&self, offset: UtcOffset) -> Date {
        local_date(self.start, offset)
    }

    /// The part of the event whose samples can be judged at `now`: whole sample slots that have
    /// ended (all of them once the event is over); `None` before it starts or when cancelled.
    pub fn judged_window(&self, now: i64, step: i64) -> Option<(i64, i64)> {
        if self.status == EventStatus::Cancelled || now <= self.start {
            return None;
        }
        if now >= self.end {
            return Some((self.start, self.end));
        }
        let elapsed_slots = (now - self.start) / step.max(1);
        Some((self.start, self.start + elapsed_slots * step.max(1)))
    }
}

/// Where an event stands at the time of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Over: its execution rate, factor and income are final.
    Final,
    /// Running: the execution rate so far; no income until it ends.
    InProgress,
    /// Not started yet.
    Upcoming,
    /// Cancelled by the trading server: earns nothing.
    Cancelled,
}

/// Sample counts of one event, or of a slot-aligned piece of one (pieces add up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub present: u64,
    pub compliant: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.present += other.present;
        self.compliant += other.compliant;
    }
}

/// Judges `samples` against `event` over `[from, to)`, a piece of its judged window starting on a
/// sample-slot boundary, so the counts of consecutive pieces add up to the whole event's.
pub fn judge_piece(
    params: &DregParams,
    event: &Event,
    from: i64,
    to: i64,
    samples: &[Sample],
) -> Counts {
    let e = params.evaluate(event.mode, event.capacity_mw(), from, to, samples);
    Counts {
        present: e.present,
        compliant: e.compliant,
    }
}

/// Splits `[from, to)` into pieces of at most `max_slots` sample slots, each starting on a slot
/// boundary counted from `from`.
pub fn slot_pieces(from: i64, to: i64, step: i64, max_slots: u64) -> Vec<(i64, i64)> {
    let len = step.max(1) * max_slots.max(1) as i64;
    let mut out = Vec::new();
    let mut a = from;
    while a < to {
        let b = (a + len).min(to);
        out.push((a, b));
        a = b;
    }
    out
}

/// One event in the income and execution views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventIncome {
    pub id: u64,
    pub start: String,
    pub end: String,
    pub mode: String,
    pub status: String,
    pub phase: Phase,
    pub capacity_mw: f64,
    pub hours: f64,
    /// TWD per MW·h, exact (`"523.45"`), and the same in cents.
    pub price: String,
    pub price_cents: i64,
    /// Samples the whole event window calls for (one per nominal interval).
    pub expected_samples: u64,
    /// Slots judged so far that had a sample, and those whose sample was compliant.
    pub present_samples: u64,
    pub compliant_samples: u64,
    /// compliant / expected: final once the event is over, so far while it runs (over the slots
    /// elapsed); null before it starts and for a cancelled event.
    pub execution_rate: Option<f64>,
    /// The performance factor the rate earns (one of the configured tiers, or 0).
    pub factor: Option<f64>,
    /// Final income (exact decimal string and cents); null until the event is over.
    pub income: Option<String>,
    pub income_cents: Option<i64>,
}

/// Settles one event at `now` from the sample counts of its judged window.
pub fn settle(
    params: &DregParams,
    event: &Event,
    now: i64,
    counts: Counts,
    offset: UtcOffset,
) -> EventIncome {
    let step = i64::from(params.sample_interval_s);
    let phase = if event.status == EventStatus::Cancelled {
        Phase::Cancelled
    } else if now >= event.end {
        Phase::Final
    } else if now > event.start {
        Phase::InProgress
    } else {
        Phase::Upcoming
    };
    let expected = params.expected_samples(event.start, event.end);
    let judged: Option<Execution> = event.judged_window(now, step).map(|(a, b)| {
        let slots = params.expected_samples(a, b);
        params.execution(slots, counts.present, counts.compliant)
    });
    let income_cents = match phase {
        Phase::Final => judged.map(|e| {
            income_cents_exact(
                event.capacity_kw,
                event.duration_s(),
                event.price_cents,
                (e.factor * 1000.0).round() as i64,
            )
        }),
        Phase::Cancelled => Some(0),
        Phase::InProgress | Phase::Upcoming => None,
    };
    let in_progress_rate = |e: &Execution| round(e.rate, 4);
    EventIncome {
        id: event.id,
        start: format_iso(event.start, offset),
        end: format_iso(event.end, offset),
        mode: event.mode.as_str().to_owned(),
        status: event.status.as_str().to_owned(),
        phase,
        capacity_mw: event.capacity_mw(),
        hours: round(event.hours(), 4),
        price: format_cents(event.price_cents),
        price_cents: event.price_cents,
        expected_samples: expected,
        present_samples: judged.map_or(0, |e| e.present),
        compliant_samples: judged.map_or(0, |e| e.compliant),
        execution_rate: judged.as_ref().map(in_progress_rate),
        factor: match phase {
            Phase::Cancelled => Some(0.0),
            _ => judged.map(|e| e.factor),
        },
        income: income_cents.map(format_cents),
        income_cents,
    }
}

/// `GET /api/v1/income/daily`: the events starting on one site-local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayIncome {
    pub date: String,
    pub events: Vec<EventIncome>,
    /// Sum of the events' final incomes.
    pub total: String,
    pub total_cents: i64,
    /// Events whose income is not final yet (running or upcoming).
    pub pending_events: u32,
    /// Whether the day is settled (old enough never to change; answered from the cache).
    pub settled: bool,
    pub currency: String,
}

impl DayIncome {
    pub fn new(date: Date, events: Vec<EventIncome>, settled: bool) -> DayIncome {
        let total_cents = events.iter().filter_map(|e| e.income_cents).sum();
        let pending_events = events
            .iter()
            .filter(|e| matches!(e.phase, Phase::InProgress | Phase::Upcoming))
            .count() as u32;
        DayIncome {
            date: date.to_string(),
            events,
            total: format_cents(total_cents),
            total_cents,
            pending_events,
            settled,
            currency: CURRENCY.to_owned(),
        }
    }
}

/// One day's line in the monthly view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayTotal {
    pub date: String,
    pub events: u32,
    pub pending_events: u32,
    pub total: String,
    pub total_cents: i64,
    pub settled: bool,
}

/// `GET /api/v1/income/monthly`: every day of the month and the month's total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthIncome {
    pub month: String,
    pub days: Vec<DayTotal>,
    pub events: u32,
    pub pending_events: u32,
    /// Sum of the days' totals.
    pub total: String,
    pub total_cents: i64,
    pub currency: String,
}

impl MonthIncome {
    pub fn new(month: Month, days: &[DayIncome]) -> MonthIncome {
        let lines: Vec<DayTotal> = days
            .iter()
            .map(|d| DayTotal {
                date: d.date.clone(),
                events: d.events.len() as u32,
                pending_events: d.pending_events,
                total: d.total.clone(),
                total_cents: d.total_cents,
                settled: d.settled,
            })
            .collect();
        let total_cents = lines.iter().map(|d| d.total_cents).sum();
        MonthIncome {
            month: month.to_string(),
            events: lines.iter().map(|d| d.events).sum(),
            pending_events: lines.iter().map(|d| d.pending_events).sum(),
            days: lines,
            total: format_cents(total_cents),
            total_cents,
            currency: CURRENCY.to_owned(),
        }
    }
}

/// `GET /api/v1/execution-rate`: one event (`event_id`) or a day's events (`date`), with the
/// samples behind the rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionReport {
    pub date: Option<String>,
    pub event_id: Option<u64>,
    pub events: Vec<EventIncome>,
    /// Over the events judged so far: expected slots, compliant slots and their ratio.
    pub expected_samples: u64,
    pub compliant_samples: u64,
    pub execution_rate: Option<f64>,
}

impl ExecutionReport {
    pub fn new(date: Option<Date>, event_id: Option<u64>, events: Vec<EventIncome>) -> Self {
        let judged: Vec<&EventIncome> = events.iter().filter(|e| e.phase == Phase::Final).collect();
        let expected: u64 = judged.iter().map(|e| e.expected_samples).sum();
        let compliant: u64 = judged.iter().map(|e| e.compliant_samples).sum();
        ExecutionReport {
            date: date.map(|d| d.to_string()),
            event_id,
            expected_samples: expected,
            compliant_samples: compliant,
            execution_rate: (expected > 0).then(|| round(compliant as f64 / expected as f64, 4)),
            events,
        }
    }
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn parse(s: &str) -> Option<Month> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return None;
        }
        let year = s[..4].parse().ok()?;
        let month = s[5..].parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    pub fn containing(date: Date) -> Month {
        Month {
            year: date.year,
            month: date.month,
        }
    }

    pub fn days(self) -> Vec<Date> {
        (1..=days_in_month(self.year, self.month))
            .map(|day| Date {
                year: self.year,
                month: self.month,
                day,
            })
            .collect()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The day after `date`.
pub fn next_day(date: Date) -> Date {
    Date::from_days_since_epoch(date.days_since_epoch() + 1)
}

/// Whether a day's settlement can no longer change at `now`: it ended more than `settle_days`
/// days ago (late rows and corrections arrive within that time).
pub fn is_settled(date: Date, now: i64, offset: UtcOffset, settle_days: u32) -> bool {
    next_day(date).start_utc(offset) + i64::from(settle_days) * 86_400 <= now
}

/// What the cached settlement of a day depends on besides the day: the dReg parameters and the
/// site offset (ISO times in the cached answer carry it). A change of either is a new cache key.
pub fn settlement_tag(params: &DregParams, offset: UtcOffset) -> String {
    // FNV-1a over a canonical text: stable across builds and instances, unlike `Hasher`s.
    let text = format!("v1|{params:?}|{}", offset.0);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// `GET /api/v1/schedule`: events from the start of the current local week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleView {
    pub from: String,
    pub to: String,
    pub mode: String,
    pub weeks: u32,
    pub events: Vec<ScheduledEvent>,
    pub totals: ScheduleTotals,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledEvent {
    pub id: u64,
    pub start: String,
    pub end: String,
    pub mode: String,
    pub status: String,
    pub capacity_mw: f64,
    pub hours: f64,
    pub price: String,
    pub price_cents: i64,
}

/// Totals over the events that are not cancelled (cancelled ones are only counted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleTotals {
    pub events: u32,
    pub dreg_events: u32,
    pub edreg_events: u32,
    pub cancelled_events: u32,
    pub hours: f64,
    /// Σ capacity × hours.
    pub awarded_mwh: f64,
}

/// The weeks shown by the schedule: from local Monday 00:00 of the week containing `now`.
pub fn schedule_window(now: i64, offset: UtcOffset, weeks: u32) -> (i64, i64) {
    let today = local_date(now, offset);
    let monday = Date::from_days_since_epoch(
        today.days_since_epoch() - i64::from(today.weekday_from_monday()),
    );
    let from = monday.start_utc(offset);
    (from, from + i64::from(weeks) * 7 * 86_400)
}

impl ScheduleView {
    pub fn new(
        (from, to): (i64, i64),
        mode: &str,
        weeks: u32,
        events: &[Event],
        offset: UtcOffset,
    ) -> ScheduleView {
        let live: Vec<&Event> = events
            .iter()
            .filter(|e| e.status != EventStatus::Cancelled)
            .collect();
        let count = |m: Mode| live.iter().filter(|e| e.mode == m).count() as u32;
        // Exact sums in kW·s, converted once.
        let kw_s: i128 = live
            .iter()
            .map(|e| i128::from(e.capacity_kw) * i128::from(e.duration_s()))
            .sum();
        let secs: i64 = live.iter().map(|e| e.duration_s()).sum();
        ScheduleView {
            from: format_iso(from, offset),
            to: format_iso(to, offset),
            mode: mode.to_owned(),
            weeks,
            totals: ScheduleTotals {
                events: live.len() as u32,
                dreg_events: count(Mode::Dreg),
                edreg_events: count(Mode::Edreg),
                cancelled_events: (events.len() - live.len()) as u32,
                hours: round(secs as f64 / 3600.0, 4),
                awarded_mwh: round(kw_s as f64 / 3_600_000.0, 4),
            },
            events: events
                .iter()
                .map(|e| ScheduledEvent {
                    id: e.id,
                    start: format_iso(e.start, offset),
                    end: format_iso(e.end, offset),
                    mode: e.mode.as_str().to_owned(),
                    status: e.status.as_str().to_owned(),
                    capacity_mw: e.capacity_mw(),
                    hours: round(e.hours(), 4),
                    price: format_cents(e.price_cents),
                    price_cents: e.price_cents,
                })
                .collect(),
        }
    }
}

/// `mode` of the schedule route.
pub const SCHEDULE_MODES: [&str; 3] = ["all", "dreg", "edreg"];
/// `weeks` of the schedule route: 1 by default, at most a year.
pub const MAX_WEEKS: u64 = 52;

/// The schedule route's query.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleQuery {
    /// `None` for all modes.
    pub mode: Option<Mode>,
    pub mode_name: &'static str,
    pub weeks: u32,
}

impl ScheduleQuery {
    pub fn parse(q: &Query) -> Result<ScheduleQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mode_name = match q.get("mode") {
            None => "all",
            Some(raw) => {
                params::choice("query", "mode", raw, &SCHEDULE_MODES).unwrap_or_else(|e| {
                    errors.push(e);
                    "all"
                })
            }
        };
        let weeks = match q.get("weeks") {
            None => 1,
            Some(raw) => params::integer("query", "weeks", raw, 1, Some(MAX_WEEKS))
                .map(|w| w as u32)
                .unwrap_or_else(|e| {
                    errors.push(e);
                    1
                }),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ScheduleQuery {
            mode: Mode::parse(mode_name),
            mode_name,
            weeks,
        })
    }
}

/// The execution-rate route's query: one event, or the events of one day (today by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExecutionQuery {
    Event(u64),
    Day(Option<Date>),
}

impl ExecutionQuery {
    pub fn parse(q: &Query) -> Result<ExecutionQuery, Vec<FieldError>> {
        match (q.get("event_id"), q.get("date")) {
            (Some(id), None) => params::integer("query", "event_id", id, 1, None)
                .map(ExecutionQuery::Event)
                .map_err(|e| vec![e]),
            (None, date) => date
                .map(|raw| params::date("query", "date", raw))
                .transpose()
                .map(ExecutionQuery::Day)
                .map_err(|e| vec![e]),
            (Some(id), Some(_)) => Err(vec![FieldError::new(
                "query",
                "event_id",
                "value_error",
                "Value error, give either event_id or date, not both",
                serde_json::Value::from(id),
            )]),
        }
    }
}

/// An optional `date` query parameter (the income and execution routes).
pub fn date_query(q: &Query) -> Result<Option<Date>, Vec<FieldError>> {
    q.get("date")
        .map(|raw| params::date("query", "date", raw))
        .transpose()
        .map_err(|e| vec![e])
}

/// An optional `month` query parameter.
pub fn month_query(q: &Query) -> Result<Option<Month>, Vec<FieldError>> {
    q.get("month")
        .map(|raw| params::month("query", "month", raw))
        .transpose()
        .map_err(|e| vec![e])
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: UtcOffset = UtcOffset::SITE_DEFAULT;

    fn event(start: i64, hours: i64, status: EventStatus) -> Event {
        Event {
            id: 7,
            start,
            end: start + hours * 3600,
            mode: Mode::Dreg,
            capacity_kw: 1250,
            price_cents: 52_345,
            status,
        }
    }

    fn day(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(
            Month::parse("2026-02"),
            Some(Month {
                year: 2026,
                month: 2
            })
        );
        for bad in [
            "2026-13",
            "2026-00",
            "2026-2",
            "26-02",
            "2026/02",
            "2026-02-01",
            "+026-02",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(Month::parse("2024-02").unwrap().days().len(), 29);
        assert_eq!(Month::parse("2026-11").unwrap().to_string(), "2026-11");
    }

    #[test]
    fn a_final_event_earns_its_income_in_cents() {
        let p = DregParams::default();
        let e = event(1_000_000, 2, EventStatus::Completed);
        // 720 slots, 700 compliant: 0.9722 → factor 1.0; 1.25 MW × 2 h × 523.45 = 1308.625 → 1308.63
        let s = settle(
            &p,
            &e,
            e.end + 5,
            Counts {
                present: 710,
                compliant: 700,
            },
            OFF,
        );
        assert_eq!(s.phase, Phase::Final);
        assert_eq!(s.expected_samples, 720);
        assert_eq!(s.factor, Some(1.0));
        assert_eq!(s.income_cents, Some(130_863));
        assert_eq!(s.income.as_deref(), Some("1308.63"));
        assert_eq!(s.price, "523.45");
    }

    #[test]
    fn running_upcoming_and_cancelled_events_earn_nothing_yet() {
        let p = DregParams::default();
        let e = event(1_000_000, 1, EventStatus::Active);
        // 15 minutes and 5 s in: 90 whole slots judged.
        let running = settle(
            &p,
            &e,
            e.start + 905,
            Counts {
                present: 90,
                compliant: 81,
            },
            OFF,
        );
        assert_eq!(running.phase, Phase::InProgress);
        assert_eq!(running.execution_rate, Some(0.9));
        assert_eq!(running.income_cents, None);
        assert_eq!(
            e.judged_window(e.start + 905, 10),
            Some((e.start, e.start + 900))
        );
        let upcoming = settle(&p, &e, e.start, Counts::default(), OFF);
        assert_eq!(
            (upcoming.phase, upcoming.execution_rate),
            (Phase::Upcoming, None)
        );
        let cancelled = settle(
            &p,
            &event(1_000_000, 1, EventStatus::Cancelled),
            e.end + 1,
            Counts::default(),
            OFF,
        );
        assert_eq!(cancelled.phase, Phase::Cancelled);
        assert_eq!(
            (cancelled.income_cents, cancelled.factor),
            (Some(0), Some(0.0))
        );
        let day = DayIncome::new(day("2026-11-22"), vec![running, upcoming, cancelled], false);
        assert_eq!((day.total_cents, day.pending_events), (0, 2));
    }

    #[test]
    fn pieces_are_slot_aligned_and_add_up() {
        let p = DregParams::default();
        let e = event(1_000_000, 1, EventStatus::Completed);
        let samples: Vec<Sample> = (0..360)
            .filter(|i| i % 7 != 0)
            .map(|i| Sample {
                ts: e.start + i * 10 + 3,
                freq_hz: 60.0,
                p_kw: if i % 5 == 0 { 100.0 } else { 0.0 },
            })
            .collect();
        let whole = judge_piece(&p, &e, e.start, e.end, &samples);
        let mut sum = Counts::default();
        for (a, b) in slot_pieces(e.start, e.end, 10, 37) {
            assert_eq!((a - e.start) % 10, 0);
            sum.add(judge_piece(&p, &e, a, b, &samples));
        }
        assert_eq!(sum, whole);
        assert_eq!(
            slot_pieces(0, 100, 10, 3),
            vec![(0, 30), (30, 60), (60, 90), (90, 100)]
        );
    }

    #[test]
    fn days_settle_after_the_configured_days() {
        let d = day("2026-11-20");
        let end = day("2026-11-21").start_utc(OFF);
        assert!(!is_settled(d, end + 2 * 86_400 - 1, OFF, 2));
        assert!(is_settled(d, end + 2 * 86_400, OFF, 2));
        assert!(is_settled(d, end, OFF, 0));
    }

    #[test]
    fn the_cache_tag_follows_the_parameters() {
        let p = DregParams::default();
        assert_eq!(settlement_tag(&p, OFF), settlement_tag(&p.clone(), OFF));
        let mut q = p.clone();
        q.tolerance_fraction = 0.05;
        assert_ne!(settlement_tag(&p, OFF), settlement_tag(&q, OFF));
        assert_ne!(settlement_tag(&p, OFF), settlement_tag(&p, UtcOffset(0)));
    }

    #[test]
    fn the_schedule_starts_on_local_monday() {
        // 2026-11-23 is a Monday; at 01:00 local it is still Sunday in UTC.
        let now = day("2026-11-23").start_utc(OFF) + 3600;
        let (from, to) = schedule_window(now, OFF, 2);
        assert_eq!(from, day("2026-11-23").start_utc(OFF));
        assert_eq!(to - from, 14 * 86_400);
        let sunday_night = day("2026-11-22").start_utc(OFF) + 23 * 3600;
        assert_eq!(
            schedule_window(sunday_night, OFF, 1).0,
            day("2026-11-16").start_utc(OFF)
        );
    }

    #[test]
    fn schedule_totals_leave_cancelled_events_out() {
        let mut cancelled = event(2_000_000, 3, EventStatus::Cancelled);
        cancelled.mode = Mode::Edreg;
        let events = [event(1_000_000, 2, EventStatus::Completed), cancelled];
        let v = ScheduleView::new((0, 1), "all", 1, &events, OFF);
        assert_eq!(v.events.len(), 2);
        assert_eq!(
            (
                v.totals.events,
                v.totals.dreg_events,
                v.totals.edreg_events,
                v.totals.cancelled_events
            ),
            (1, 1, 0, 1)
        );
        assert_eq!((v.totals.hours, v.totals.awarded_mwh), (2.0, 2.5));
    }

    #[test]
    fn queries_validate_like_fastapi() {
        let q = |s: &str| Query::parse(s);
        assert_eq!(
            ScheduleQuery::parse(&q("")).unwrap(),
            ScheduleQuery {
                mode: None,
                mode_name: "all",
                weeks: 1
            }
        );
        let s = ScheduleQuery::parse(&q("mode=edreg&weeks=52")).unwrap();
        assert_eq!((s.mode, s.weeks), (Some(Mode::Edreg), 52));
        let errs = ScheduleQuery::parse(&q("mode=both&weeks=53")).unwrap_err();
        let kinds: Vec<_> = errs.iter().map(|e| (e.loc[1].clone(), e.kind)).collect();
        assert_eq!(
            kinds,
            vec![("mode".into(), "enum"), ("weeks".into(), "less_than_equal")]
        );
        assert_eq!(
            ScheduleQuery::parse(&q("weeks=0")).unwrap_err()[0].kind,
            "greater_than_equal"
        );
        assert_eq!(
            ExecutionQuery::parse(&q("event_id=5")).unwrap(),
            ExecutionQuery::Event(5)
        );
        assert_eq!(
            ExecutionQuery::parse(&q("")).unwrap(),
            ExecutionQuery::Day(None)
        );
        assert_eq!(
            ExecutionQuery::parse(&q("date=2026-11-02")).unwrap(),
            ExecutionQuery::Day(Some(day("2026-11-02")))
        );
        assert_eq!(
            ExecutionQuery::parse(&q("event_id=x")).unwrap_err()[0].kind,
            "int_parsing"
        );
        assert_eq!(
            ExecutionQuery::parse(&q("event_id=0")).unwrap_err()[0].kind,
            "greater_than_equal"
        );
        assert_eq!(
            ExecutionQuery::parse(&q("event_id=1&date=2026-11-02")).unwrap_err()[0].kind,
            "value_error"
        );
        assert_eq!(
            date_query(&q("date=2026-02-30")).unwrap_err()[0].kind,
            "date_parsing"
        );
        assert_eq!(
            date_query(&q("date=1969-12-31")).unwrap_err()[0].kind,
            "value_error"
        );
        assert_eq!(
            month_query(&q("month=2026-13")).unwrap_err()[0].kind,
            "string_pattern_mismatch"
        );
        assert_eq!(month_query(&q("month=2026-11")).unwrap().unwrap().month, 11);
    }

    #[test]
    fn a_month_is_the_sum_of_its_days() {
        let p = DregParams::default();
        let m = Month::parse("2026-10").unwrap();
        let days: Vec<DayIncome> = m
            .days()
            .into_iter()
            .map(|d| {
                let start = d.start_utc(OFF);
                let events = (0..3)
                    .map(|k| {
                        let mut e = event(start + k * 7200, 1, EventStatus::Completed);
                        e.capacity_kw = 1000 + 137 * k + i64::from(d.day);
                        settle(
                            &p,
                            &e,
                            e.end,
                            Counts {
                                present: 360,
                                compliant: 300 + 20 * k as u64,
                            },
                            OFF,
                        )
                    })
                    .collect();
                DayIncome::new(d, events, true)
            })
            .collect();
        let month = MonthIncome::new(m, &days);
        assert_eq!(month.days.len(), 31);
        assert_eq!(
            month.total_cents,
            days.iter().map(|d| d.total_cents).sum::<i64>()
        );
        for d in &days {
            assert_eq!(
                d.total_cents,
                d.events.iter().filter_map(|e| e.income_cents).sum::<i64>()
            );
        }
        assert_eq!(month.events, 93);
    }
}
