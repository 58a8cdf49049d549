//! The `trading` endpoint group, under `trading:read`: the dReg/E-dReg schedule and what it
//! earns.
//!
//! - `GET /api/v1/schedule?mode=all|dreg|edreg&weeks=1..52`: events from local Monday
//! - `GET /api/v1/income/daily?date=`: each event's execution rate, factor and income; the total
//! - `GET /api/v1/income/monthly?month=YYYY-MM`: every day's total and the month's
//! - `GET /api/v1/execution-rate?event_id=` or `?date=`: the samples behind the rates
//! - the legacy Flask paths, same answers, marked deprecated
//!
//! Absent dates mean today, this month, in site time. Settled days come from the Redis cache
//! (`guest::trading`); everything else costs one events query plus the sample chunks.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::Stores;
use solarhub_shared::guest::trading::{day_incomes, event_by_id, events_starting, Settlement};
use solarhub_shared::http::{dispatch_get, GetRoute, Request, Response};
use solarhub_shared::params::Query;
use solarhub_shared::schema::{ess, Database};
use solarhub_shared::time::{local_date, now_unix};
use solarhub_shared::trading::{
    date_query, month_query, schedule_window, settle, ExecutionQuery, ExecutionReport, Month,
    MonthIncome, ScheduleQuery, ScheduleView,
};

solarhub_shared::http_component!(route);

const ROUTES: [GetRoute; 4] = [
    GetRoute {
        path: "/api/v1/schedule",
        legacy: Some("/api/schedule"),
        handler: schedule,
    },
    GetRoute {
        path: "/api/v1/income/daily",
        legacy: Some("/api/income/day"),
        handler: income_daily,
    },
    GetRoute {
        path: "/api/v1/income/monthly",
        legacy: Some("/api/income/month"),
        handler: income_monthly,
    },
    GetRoute {
        path: "/api/v1/execution-rate",
        legacy: Some("/api/exec_rate"),
        handler: execution_rate,
    },
];

fn route(req: &Request) -> Response {
    dispatch_get(req, &ROUTES)
}

/// The caller may read trading data; the query is parsed only then (a 401/403 wins over a 422).
fn authorized(req: &Request) -> Result<(Stores, Query), ApiError> {
    let mut stores = Stores::new();
    authorize(req, Some(ess::PERM_TRADING_READ), &mut stores)?;
    Ok((stores, Query::parse(req.query())))
}

fn schedule(req: &Request) -> Result<Response, ApiError> {
    let (mut stores, query) = authorized(req)?;
    let query = ScheduleQuery::parse(&query).map_err(ApiError::Validation)?;
    let offset = solarhub_shared::guest::config::site_offset()?;
    let window = schedule_window(now_unix(), offset, query.weeks);
    let db = stores.db(Database::Schedule)?;
    let events = events_starting(&db, window.0, window.1, query.mode)?;
    let view = ScheduleView::new(window, query.mode_name, query.weeks, &events, offset);
    Ok(Response::json(200, &view))
}

fn income_daily(req: &Request) -> Result<Response, ApiError> {
    let (mut stores, query) = authorized(req)?;
    let date = date_query(&query).map_err(ApiError::Validation)?;
    let cx = Settlement::from_config(now_unix())?;
    let date = date.unwrap_or_else(|| local_date(cx.now, cx.offset));
    let day = day_incomes(&mut stores, &cx, &[date])?;
    match day.first() {
        Some(day) => Ok(Response::json(200, day)),
        None => Err(solarhub_shared::guest::internal("income", &"no settlement")),
    }
}

fn income_monthly(req: &Request) -> Result<Response, ApiError> {
    let (mut stores, query) = authorized(req)?;
    let month = month_query(&query).map_err(ApiError::Validation)?;
    let cx = Settlement::from_config(now_unix())?;
    let month = month.unwrap_or_else(|| Month::containing(local_date(cx.now, cx.offset)));
    let days = day_incomes(&mut stores, &cx, &month.days())?;
    Ok(Response::json(200, &MonthIncome::new(month, &days)))
}

fn execution_rate(req: &Request) -> Result<Response, ApiError> {
    let (mut stores, query) = authorized(req)?;
    let query = ExecutionQuery::parse(&query).map_err(ApiError::Validation)?;
    let cx = Settlement::from_config(now_unix())?;
    let report = match query {
        ExecutionQuery::Event(id) => {
            let db = stores.db(Database::Schedule)?;
            let event = event_by_id(&db, id)?
                .ok_or_else(|| ApiError::NotFound(format!("Event {id} not found")))?;
            let counts = solarhub_shared::guest::trading::judge_events(
                &mut stores,
                &cx.params,
                std::slice::from_ref(&event),
                cx.now,
            )?;
            let settled = settle(&cx.params, &event, cx.now, counts[0], cx.offset);
            ExecutionReport::new(None, Some(id), vec![settled])
        }
        ExecutionQuery::Day(date) => {
            let date = date.unwrap_or_else(|| local_date(cx.now, cx.offset));
            let day = day_incomes(&mut stores, &cx, &[date])?;
            let events = day.into_iter().flat_map(|d| d.events).collect();
            ExecutionReport::new(Some(date), None, events)
        }
    };
    Ok(Response::json(200, &report))
}
