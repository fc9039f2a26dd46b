//! The monitor's routes and schemas in the OpenAPI document: figures, overdue cases, the
//! non-cooperation list, and the hoster's explanation.

use super::{FORBIDDEN_PORTAL, WORK_CASES, detail, int_param, json_body, json_ok, op, schema_ref};
use serde_json::{Value, json};

fn period_param() -> Value {
    json!({"name": "period", "in": "query", "required": false,
           "description": "`2026`, `2026-Q3`, `2026-03` or `2026-01-01..2026-06-30` (days, both included); default the last 12 months",
           "schema": {"type": "string"}})
}

fn limit_param(default: u32, max: u32) -> Value {
    json!({"name": "limit", "in": "query", "required": false,
           "description": format!("default {default}, at most {max}"),
           "schema": {"type": "integer", "minimum": 1, "maximum": max}})
}

const BAD_PERIOD: (&str, &str) = (
    "400",
    "`invalid_request`: the period is not one of the forms above, or longer than 20 years",
);

pub(super) fn paths() -> Vec<(&'static str, Value)> {
    let figures = detail(
        op(
            "The published figures of a period",
            WORK_CASES,
            None,
            json_ok(
                "The sector, every hoster, categories, months and the removal-time histogram (what `/transparency/data.json` publishes)",
                schema_ref("Published"),
            ),
        ),
        "Computed in the database from the cases notified in the period (see the monitor crate's documentation for the rules: censoring, the 24-hour norm, undecided cases) and cached for a minute.",
        vec![period_param()],
        &[BAD_PERIOD],
    );
    let overdue = detail(
        op(
            "Open cases past the 24-hour norm",
            WORK_CASES,
            None,
            json_ok(
                "Oldest notice first",
                json!({"type": "array", "items": schema_ref("CaseFacts")}),
            ),
        ),
        "Notified cases not removed more than 24 hours after their notice.",
        vec![limit_param(100, 1000)],
        &[],
    );
    let runs = detail(
        op(
            "Runs of the non-cooperation rules",
            WORK_CASES,
            None,
            json_ok(
                "Newest first",
                json!({"type": "array", "items": schema_ref("Run")}),
            ),
        ),
        "",
        vec![limit_param(20, 200)],
        &[],
    );
    let run = detail(
        op(
            "Run the non-cooperation rules now",
            WORK_CASES,
            None,
            json_ok(
                "Created: the run and what it proposes (status proposed)",
                schema_ref("Run"),
            ),
        ),
        "Applies the configured rules to the window ending now and proposes to list hosters that break a rule and to delist listed hosters that break none. Nothing changes until an analyst approves.",
        vec![],
        &[],
    );
    let get_run = detail(
        op(
            "One run",
            WORK_CASES,
            None,
            json_ok("The run", schema_ref("Run")),
        ),
        "",
        vec![int_param("id", "path", "the run")],
        &[("404", "`not_found`: no such run")],
    );
    let decide = detail(
        op(
            "Approve or discard a run",
            WORK_CASES,
            Some(json_body("RunDecision")),
            json_ok("The run as decided", schema_ref("Run")),
        ),
        "Approving lists and delists as proposed, each an event with the actor, and queues an e-mail to every newly listed hoster's abuse addresses with a signed link to the portal, in one transaction.",
        vec![int_param("id", "path", "the run")],
        &[
            ("404", "`not_found`: no such run"),
            (
                "409",
                "`conflict`: the run was decided already, or a proposed hoster is listed already",
            ),
        ],
    );
    let listings = detail(
        op(
            "The non-cooperation list",
            WORK_CASES,
            None,
            json_ok(
                "Newest first",
                json!({"type": "array", "items": schema_ref("Listing")}),
            ),
        ),
        "Hosters on the list now, or with `status=all` also those taken off.",
        vec![
            json!({"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": ["current", "all"]}}),
        ],
        &[],
    );
    let explanations = detail(
        op(
            "Hosters' explanations",
            WORK_CASES,
            None,
            json_ok(
                "Newest first",
                json!({"type": "array", "items": schema_ref("Explanation")}),
            ),
        ),
        "",
        vec![
            json!({"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": ["pending", "approved", "rejected", "all"]}}),
        ],
        &[("400", "`invalid_request`: an unknown status")],
    );
    let review = detail(
        op(
            "Publish an explanation, or not",
            WORK_CASES,
            Some(json_body("ExplanationReview")),
            json_ok("The explanation as reviewed", schema_ref("Explanation")),
        ),
        "An approved explanation is shown beside the hoster's entry on the public list.",
        vec![int_param("id", "path", "the explanation")],
        &[
            ("404", "`not_found`: no such explanation"),
            ("409", "`conflict`: it was reviewed already"),
        ],
    );
    let events = detail(
        op(
            "The list's history",
            WORK_CASES,
            None,
            json_ok(
                "Newest first",
                json!({"type": "array", "items": schema_ref("ListEvent")}),
            ),
        ),
        "Listings, delistings and explanations, with who and when.",
        vec![
            int_param("hoster", "query", "only this hoster"),
            limit_param(100, 1000),
        ],
        &[],
    );
    let portal_listing = detail(
        op(
            "The hoster portal: the caller's listing",
            "hoster (a key whose organisation is linked to an entry of the hosters register)",
            None,
            json_ok(
                "The listing (null when not listed) and the caller's explanations",
                schema_ref("PortalListing"),
            ),
        ),
        "",
        vec![],
        &[FORBIDDEN_PORTAL],
    );
    let explain = detail(
        op(
            "The hoster portal: explain a listing",
            "hoster (a key whose organisation is linked to an entry of the hosters register)",
            Some(json_body("ExplanationText")),
            json_ok(
                "Created: the explanation, pending review",
                schema_ref("Explanation"),
            ),
        ),
        "Comply or explain: an analyst reviews the text before it is shown beside the entry on the public list.",
        vec![],
        &[
            (
                "400",
                "`invalid_request`: an empty text or one over 4000 characters",
            ),
            FORBIDDEN_PORTAL,
            ("409", "`conflict`: the caller is not on the list"),
        ],
    );
    vec![
        ("/v1/monitor/figures", json!({"get": figures})),
        ("/v1/monitor/overdue", json!({"get": overdue})),
        ("/v1/monitor/runs", json!({"get": runs, "post": run})),
        ("/v1/monitor/runs/{id}", json!({"get": get_run})),
        ("/v1/monitor/runs/{id}/decision", json!({"post": decide})),
        ("/v1/monitor/listings", json!({"get": listings})),
        ("/v1/monitor/explanations", json!({"get": explanations})),
        (
            "/v1/monitor/explanations/{id}/review",
            json!({"post": review}),
        ),
        ("/v1/monitor/events", json!({"get": events})),
        (
            "/v1/portal/explanation",
            json!({"get": portal_listing, "post": explain}),
        ),
    ]
}

pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    let r = schema_ref;
    let int = json!({"type": "integer"});
    let count = json!({"type": "integer", "minimum": 0});
    let text = json!({"type": "string"});
    let ms = json!({"type": "integer", "description": "epoch milliseconds"});
    let ms_or_null = json!({"type": ["integer", "null"], "description": "epoch milliseconds"});
    let hours = json!({"type": ["number", "null"], "description": "hours; null without cases"});
    let share = json!({"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "null when no URL can be judged yet"});
    vec![
        (
            "Figures",
            json!({"type": "object", "description": "One slice's figures; see the monitor crate's documentation for the rules", "properties": {
            "hosters": count, "notices": count, "urls": count, "removed": count, "removed_within_24h": count,
            "still_online": count, "undecided_24h": count, "share_within_24h": share,
            "median_hours": hours, "median_censored": {"type": "boolean", "description": "the median is a lower bound"},
            "p90_hours": hours, "p90_censored": {"type": "boolean"},
            "reminders": count, "escalations": count, "repeats": count,
            "checks": count, "matches": count, "removed_own_initiative": count,
            "uses_hash_check": {"type": "boolean"}, "uses_scanner": {"type": "boolean"},
            "hosters_using_hash_check": count, "hosters_using_scanner": count}}),
        ),
        (
            "Published",
            json!({"type": "object", "required": ["period", "label", "as_of", "sector", "hosters", "categories", "months", "histogram"], "properties": {
            "period": {"type": "string", "description": "the period's short form"}, "label": text,
            "as_of": {"type": "string", "format": "date-time"},
            "sector": r("Figures"),
            "hosters": {"type": "array", "items": {"allOf": [r("Figures"), {"type": "object", "properties": {"hoster_id": int, "hoster": text, "listed": {"type": "boolean"}}}]}},
            "categories": {"type": "array", "items": {"allOf": [r("Figures"), {"type": "object", "properties": {"category": text}}]}},
            "months": {"type": "array", "items": {"allOf": [r("Figures"), {"type": "object", "properties": {"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}}]}},
            "histogram": {"type": "array", "items": {"type": "object", "properties": {"bucket": {"type": "string", "enum": ["0-1h", "1-6h", "6-12h", "12-24h", "24-48h", "48-72h", "72h+", "online"]}, "label": text, "cases": count}}}}}),
        ),
        (
            "CaseFacts",
            json!({"type": "object", "properties": {
            "case_id": int, "hoster_id": int, "category": text, "url": text,
            "opened_at": ms, "notified_at": ms, "removed_at": ms_or_null, "reminded_at": ms_or_null, "escalated_at": ms_or_null}}),
        ),
        (
            "Rules",
            json!({"type": "object", "properties": {
            "window_days": int, "min_urls": int, "min_share_24h": {"type": "number"}, "escalation_ignored": {"type": "boolean"}}}),
        ),
        (
            "Reason",
            json!({"type": "object", "required": ["rule"], "properties": {
            "rule": {"type": "string", "enum": ["low_share", "escalation_ignored"]},
            "urls": count, "judged": count, "within": count, "threshold": {"type": "number"}}}),
        ),
        (
            "Run",
            json!({"type": "object", "properties": {
            "id": int, "at": ms, "by": text,
            "window": {"type": "object", "properties": {"from": ms, "to": ms}},
            "rules": r("Rules"),
            "status": {"type": "string", "enum": ["proposed", "approved", "discarded"]},
            "decided_by": {"type": ["string", "null"]}, "decided_at": ms_or_null,
            "proposals": {"type": "array", "items": {"type": "object", "properties": {
                "hoster_id": int, "hoster_name": text,
                "action": {"type": "string", "enum": ["list", "delist"]},
                "reasons": {"type": "array", "items": r("Reason")},
                "figures": r("Figures")}}}}}),
        ),
        (
            "RunDecision",
            json!({"type": "object", "required": ["approve"], "additionalProperties": false, "properties": {"approve": {"type": "boolean"}}}),
        ),
        (
            "Explanation",
            json!({"type": "object", "properties": {
            "id": int, "listing_id": int, "hoster_id": int, "hoster_name": text, "text": text,
            "submitted_at": ms, "submitted_by": text,
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "reviewed_at": ms_or_null, "reviewed_by": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}}}),
        ),
        (
            "Listing",
            json!({"type": "object", "properties": {
            "id": int, "hoster_id": int, "hoster_name": text, "listed_at": ms, "listed_by": text, "run_id": int,
            "reasons": {"type": "array", "items": r("Reason")},
            "delisted_at": ms_or_null, "delisted_by": {"type": ["string", "null"]},
            "explanation": {"oneOf": [r("Explanation"), {"type": "null"}], "description": "the latest approved explanation"}}}),
        ),
        (
            "ListEvent",
            json!({"type": "object", "properties": {
            "id": int, "at": ms, "hoster_id": int, "hoster_name": text, "listing_id": int, "actor": text,
            "kind": {"type": "string", "enum": ["listed", "delisted", "explanation_submitted", "explanation_approved", "explanation_rejected"]},
            "detail": text}}),
        ),
        (
            "ExplanationReview",
            json!({"type": "object", "required": ["approve"], "additionalProperties": false, "properties": {
            "approve": {"type": "boolean"}, "note": {"type": ["string", "null"], "description": "to the hoster, when not published"}}}),
        ),
        (
            "ExplanationText",
            json!({"type": "object", "required": ["text"], "additionalProperties": false, "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 4000}}}),
        ),
        (
            "PortalListing",
            json!({"type": "object", "properties": {
            "listing": {"oneOf": [r("Listing"), {"type": "null"}]},
            "explanations": {"type": "array", "items": r("Explanation")}}}),
        ),
    ]
}
