//! The OpenAPI 3.1 description served at `/openapi.json`.
//!
//! Written out here rather than derived: the API is small, the handlers parse bodies
//! themselves (for stable error codes), and a derive would describe axum's extractors rather
//! than the contract. Tests check that [`ROUTES`] is what the router in `lib.rs` serves, that
//! every route and every error code is described, and that every schema reference resolves.

use axum::Json;
use serde_json::{Value, json};
use std::sync::OnceLock;

mod monitor;

/// Every route, as `(method, path)`. The router and this document must agree (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/check"),
    ("post", "/v1/check"),
    ("post", "/v1/check/image"),
    ("post", "/v1/check/removals"),
    ("get", "/v1/lists"),
    ("post", "/v1/lists"),
    ("get", "/v1/lists/{id}"),
    ("get", "/v1/lists/{id}/versions"),
    ("post", "/v1/lists/{id}/import"),
    ("get", "/v1/lists/{id}/export"),
    ("get", "/v1/lists/{id}/history"),
    ("get", "/v1/lists/{id}/entries"),
    ("get", "/v1/lists/{id}/entries/{entry}"),
    ("post", "/v1/lists/{id}/entries/{entry}/status"),
    ("post", "/v1/lists/{id}/entries/{entry}/allowlist"),
    ("get", "/v1/lists/{id}/conflicts"),
    ("get", "/v1/alerts"),
    ("post", "/v1/alerts/{id}/ack"),
    ("get", "/v1/disputes"),
    ("post", "/v1/disputes"),
    ("post", "/v1/disputes/{id}/resolve"),
    ("get", "/v1/retractions"),
    ("post", "/v1/reports"),
    ("get", "/v1/reports/{reference}"),
    ("get", "/v1/cases"),
    ("get", "/v1/cases/{id}"),
    ("post", "/v1/cases/{id}/actions"),
    ("post", "/v1/cases/{id}/attribute"),
    ("get", "/v1/hosters"),
    ("post", "/v1/hosters"),
    ("get", "/v1/hosters/{id}"),
    ("put", "/v1/hosters/{id}"),
    ("get", "/v1/attribution"),
    ("get", "/v1/notices"),
    ("get", "/v1/notices/{reference}"),
    ("get", "/v1/cases/{id}/checks"),
    ("get", "/v1/templates"),
    ("put", "/v1/templates/{kind}"),
    ("post", "/v1/templates/{kind}/preview"),
    ("get", "/v1/portal/cases"),
    ("post", "/v1/portal/cases/{id}/response"),
    ("get", "/v1/portal/explanation"),
    ("post", "/v1/portal/explanation"),
    ("get", "/v1/monitor/figures"),
    ("get", "/v1/monitor/overdue"),
    ("get", "/v1/monitor/runs"),
    ("post", "/v1/monitor/runs"),
    ("get", "/v1/monitor/runs/{id}"),
    ("post", "/v1/monitor/runs/{id}/decision"),
    ("get", "/v1/monitor/listings"),
    ("get", "/v1/monitor/explanations"),
    ("post", "/v1/monitor/explanations/{id}/review"),
    ("get", "/v1/monitor/events"),
    ("get", "/v1/outbox"),
    ("get", "/v1/orgs"),
    ("post", "/v1/orgs"),
    ("patch", "/v1/orgs/{id}"),
    ("get", "/v1/keys"),
    ("post", "/v1/keys"),
    ("delete", "/v1/keys/{id}"),
    ("get", "/v1/audit"),
    ("get", "/v1/categories"),
    ("post", "/v1/categories"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The error codes, as documented.
pub const ERROR_CODES: &[&str] = &[
    "malformed_json",
    "unsupported_media_type",
    "unknown_hash_type",
    "invalid_hash",
    "batch_too_large",
    "empty_batch",
    "radius_too_large",
    "payload_too_large",
    "unreadable_image",
    "invalid_request",
    "invalid_file",
    "unauthenticated",
    "unknown_key",
    "revoked_key",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "internal",
    "unavailable",
];

fn op(summary: &str, roles: &str, body: Option<Value>, ok: Value) -> Value {
    // A success description starting with "Created" is a 201.
    let status = if ok["description"]
        .as_str()
        .is_some_and(|d| d.starts_with("Created"))
    {
        "201"
    } else {
        "200"
    };
    let mut o = json!({
        "summary": summary,
        "description": format!("Roles: {roles}."),
        "responses": {
            status: ok,
            "4XX": {"description": "An error with a stable code", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    });
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn json_body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn json_ok(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn id_param() -> Value {
    json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}}])
}

fn int_param(name: &str, place: &str, desc: &str) -> Value {
    json!({"name": name, "in": place, "required": place == "path", "description": desc, "schema": {"type": "integer", "format": "int64", "minimum": if place == "path" { 1 } else { 0 }}})
}

/// The path parameters `{id}` and, for entry routes, `{entry}`.
fn path_params(entry: bool) -> Vec<Value> {
    let mut p = vec![int_param("id", "path", "the list")];
    if entry {
        p.push(int_param(
            "entry",
            "path",
            "the entry (an id from the entries of this list)",
        ));
    }
    p
}

/// `after` and `limit` for pages ordered by id.
fn page_params(default: u32, max: u32) -> Vec<Value> {
    vec![
        int_param(
            "after",
            "query",
            "the last id of the previous page (default 0: from the start)",
        ),
        json!({"name": "limit", "in": "query", "description": format!("default {default}; larger values are cut to {max}"), "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}}),
    ]
}

fn error_response(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// Adds what the operation does to its description, its parameters, and the error answers
/// worth knowing (status, description) on top of the generic 4XX.
fn detail(mut o: Value, what: &str, params: Vec<Value>, errors: &[(&str, &str)]) -> Value {
    let roles = o["description"].as_str().unwrap_or_default().to_string();
    o["description"] = json!(format!("{roles} {what}"));
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    for (status, desc) in errors {
        o["responses"][*status] = error_response(desc);
    }
    o
}

const FORBIDDEN_HOSTER: (&str, &str) = (
    "403",
    "`forbidden`: the key's role may not do this (hosters never see entries or lists), or the list belongs to another organisation",
);

/// One item of a check request: the value's length follows from the type.
fn hash_item(kind: &str, digits: usize) -> Value {
    json!({"type": "object", "required": ["type", "value"], "additionalProperties": false,
           "properties": {"type": {"const": kind}, "value": {"type": "string", "pattern": format!("^[0-9a-fA-F]{{{digits}}}$")}}})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": schema_ref(name)})
}

/// Entry provenance and status, alerts, disputes, retraction notices, the e-mail outbox and
/// organisation e-mail addresses (the routes of `trust_api` and their neighbours in `control`).
fn trust_paths() -> Vec<(&'static str, Value)> {
    let owner = "admin, list_manager of the list's owner";
    let entries = detail(
        op("A list's entries by hash or by status, with their provenance", owner, None, json_ok("Entries, by id", array_of("Entry"))),
        "Ask either by hash (`type` and `value`: every row the hash ever had on the list, removed ones included, oldest first) or by status (`status`, paged with `after` and `limit`: default 1000, at most 10000). Asking both ways, or neither, is 400 `invalid_request`.",
        [
            path_params(false),
            vec![
                json!({"name": "type", "in": "query", "schema": schema_ref("HashType"), "description": "with `value`"}),
                json!({"name": "value", "in": "query", "schema": {"type": "string", "pattern": HEX}, "description": "with `type`: hex of the type's length"}),
                json!({"name": "status", "in": "query", "schema": schema_ref("EntryStatus")}),
            ],
            page_params(1000, 10_000),
        ]
        .concat(),
        &[
            ("400", "`invalid_request` (neither or both ways of asking, unknown status), `unknown_hash_type`, `invalid_hash`"),
            FORBIDDEN_HOSTER,
            ("404", "`not_found`: no such list"),
        ],
    );
    let entry = detail(
        op(
            "One entry with everything needed to judge it: provenance, status history, match figures, disputes",
            owner,
            None,
            json_ok("The entry", schema_ref("EntryDetail")),
        ),
        "",
        path_params(true),
        &[
            FORBIDDEN_HOSTER,
            (
                "404",
                "`not_found`: no such list, or the entry is not on it",
            ),
        ],
    );
    let status = detail(
        op(
            "Change an entry's status",
            owner,
            Some(json_body("SetEntryStatus")),
            json_ok("The status change", schema_ref("EntryEvent")),
        ),
        "`active` approves a held entry or reinstates a suspended one; `suspended` takes it out of checks for now; `retracted` takes it out for good (a later import of the hash into this list is skipped) and writes a retraction notice, and queues an e-mail, for every organisation whose checks matched it. `held` is refused: only an import holds entries. Checks follow at the next index refresh.",
        path_params(true),
        &[
            (
                "400",
                "`invalid_request`: no reason, `held`, an unknown status, or the entry was removed from the list",
            ),
            FORBIDDEN_HOSTER,
            (
                "404",
                "`not_found`: no such list, or the entry is not on it",
            ),
            ("409", "`conflict`: the entry already has that status"),
        ],
    );
    let allowlist = detail(
        op(
            "Allowlist an entry's hash and retract the entry",
            "admin, list_manager of the owner of both the list and the allowlist",
            Some(json_body("AllowlistEntry")),
            json_ok(
                "The retraction (or, if the entry was already retracted, its last status change)",
                schema_ref("EntryEvent"),
            ),
        ),
        "One step from \"this is a benign image\" to \"never match it again\": the hash is added to the allowlist (a new version of it, whose matches then override every block list's) and the entry is retracted, with retraction notices for those who matched it.",
        path_params(true),
        &[
            (
                "400",
                "`invalid_request`: no reason, or `allowlist_id` names a block list",
            ),
            (
                "403",
                "`forbidden`: the key's role may not do this, or the list or the allowlist belongs to another organisation",
            ),
            (
                "404",
                "`not_found`: no such list or allowlist, or the entry is not on the list",
            ),
        ],
    );
    let conflicts = detail(
        op(
            "Matches of this list's entries that an allowlist overrode",
            owner,
            None,
            json_ok("Conflicts, by id", array_of("Conflict")),
        ),
        "The checker was told nothing matched; these are what a list manager should look at to correct the list or the allowlist. Paged with `after` and `limit` (default 1000, at most 10000).",
        [path_params(false), page_params(1000, 10_000)].concat(),
        &[FORBIDDEN_HOSTER, ("404", "`not_found`: no such list")],
    );
    let alerts = detail(
        op(
            "Alerts (flood suspensions, disputes), newest first",
            "admin (every alert), list_manager (alerts of its organisation's lists)",
            None,
            json_ok("Alerts", array_of("Alert")),
        ),
        "Unacknowledged ones only, unless `all=true`. Analysts and hosters get 403.",
        vec![
            json!({"name": "all", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "include acknowledged alerts"}),
            json!({"name": "limit", "in": "query", "description": "default 200; larger values are cut to 10000", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}}),
        ],
        &[("403", "`forbidden`: analysts and hosters")],
    );
    let ack = detail(
        op(
            "Acknowledge an alert",
            "admin (any alert), list_manager (alerts of its organisation's lists)",
            None,
            json_ok(
                "The alert, acknowledged (acknowledging again changes nothing)",
                schema_ref("Alert"),
            ),
        ),
        "",
        vec![int_param("id", "path", "the alert")],
        &[
            ("403", "`forbidden`: analysts and hosters"),
            (
                "404",
                "`not_found`: no such alert, or not one of this list manager's lists",
            ),
        ],
    );
    let open = detail(
        op(
            "Dispute a match: \"this hash is not what the list says\"",
            "every role, for its own organisation's matches",
            Some(json_body("OpenDispute")),
            json_ok(
                "Created (201): one dispute per block-list entry the hash matched",
                array_of("Dispute"),
            ),
        ),
        "The hash is the one the caller's organisation checked (its own file's hash, not the listed one), and must be one its checks were told matched, or that matches now. Each dispute raises an alert and e-mails the list's owner. The answer names the list (as the check answer did), never the entry.",
        vec![],
        &[
            (
                "400",
                "`invalid_request` (no reason, or over 4000 characters), `unknown_hash_type`, `invalid_hash`, `malformed_json`",
            ),
            (
                "404",
                "`not_found`: no match of this hash was reported to the caller's organisation",
            ),
            (
                "409",
                "`conflict`: the organisation already has an open dispute for this match",
            ),
        ],
    );
    let list_disputes = detail(
        op(
            "Disputes, newest first",
            "every role: hosters and analysts see their organisation's, list_manager its organisation's lists', admin all",
            None,
            json_ok("Disputes", array_of("Dispute")),
        ),
        "`entry_id` and `org_id` are shown to list managers and admins only.",
        vec![
            json!({"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "rejected", "upheld"]}}),
            json!({"name": "limit", "in": "query", "description": "default 200; larger values are cut to 10000", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}}),
        ],
        &[("400", "`invalid_request`: unknown status")],
    );
    let resolve = detail(
        op(
            "Resolve a dispute",
            "admin, list_manager of the disputed entry's list's owner",
            Some(json_body("ResolveDispute")),
            json_ok("The dispute, resolved", schema_ref("Dispute")),
        ),
        "`reject`: the entry stays (the dispute becomes `rejected`). `retract`: the entry is retracted and those who matched it get retraction notices (`upheld`). `allowlist`: the same, and the hash goes on `allowlist_id` (`upheld`).",
        vec![int_param("id", "path", "the dispute")],
        &[
            (
                "400",
                "`invalid_request`: no note, or an outcome without (or with a needless) `allowlist_id`, or `allowlist_id` names a block list",
            ),
            (
                "403",
                "`forbidden`: hosters, or an allowlist of another organisation",
            ),
            (
                "404",
                "`not_found`: no such dispute, or not on one of the caller's lists",
            ),
            ("409", "`conflict`: the dispute is not open"),
        ],
    );
    let retractions = detail(
        op(
            "Retraction notices: entries the organisation's checks matched that turned out wrong",
            "every role: its organisation's notices",
            None,
            json_ok("Notices, oldest first", array_of("Retraction")),
        ),
        "Each names the list, the reason and the organisation's own matching hashes, so it can restore what it removed. Paged with `after` and `limit` (default 200, at most 1000).",
        page_params(200, 1000),
        &[],
    );
    let outbox = detail(
        op(
            "The newest 200 queued e-mails (alerts, dispute and retraction notices), sent or not",
            "admin",
            None,
            json_ok("E-mails, newest first", array_of("OutboxMail")),
        ),
        "",
        vec![],
        &[("403", "`forbidden`: every role but admin")],
    );
    let org = detail(
        op(
            "Set an organisation's e-mail address (where its alerts and notices go)",
            "admin",
            Some(json_body("UpdateOrg")),
            json_ok("The organisation", schema_ref("Organisation")),
        ),
        "",
        vec![int_param("id", "path", "the organisation")],
        &[
            (
                "400",
                "`invalid_request`: not an e-mail address; `malformed_json`",
            ),
            ("403", "`forbidden`: every role but admin"),
            ("404", "`not_found`: no such organisation"),
        ],
    );
    vec![
        ("/v1/lists/{id}/entries", json!({"get": entries})),
        ("/v1/lists/{id}/entries/{entry}", json!({"get": entry})),
        (
            "/v1/lists/{id}/entries/{entry}/status",
            json!({"post": status}),
        ),
        (
            "/v1/lists/{id}/entries/{entry}/allowlist",
            json!({"post": allowlist}),
        ),
        ("/v1/lists/{id}/conflicts", json!({"get": conflicts})),
        ("/v1/alerts", json!({"get": alerts})),
        ("/v1/alerts/{id}/ack", json!({"post": ack})),
        ("/v1/disputes", json!({"get": list_disputes, "post": open})),
        ("/v1/disputes/{id}/resolve", json!({"post": resolve})),
        ("/v1/retractions", json!({"get": retractions})),
        ("/v1/outbox", json!({"get": outbox})),
        ("/v1/orgs/{id}", json!({"patch": org})),
    ]
}

/// The schemas of [`trust_paths`].
fn trust_schemas() -> Vec<(&'static str, Value)> {
    let r = schema_ref;
    let ms = |desc: &str| json!({"type": "integer", "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let ms_or_null = |desc: &str| json!({"type": ["integer", "null"], "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let int = json!({"type": "integer", "format": "int64"});
    let int_or_null = json!({"type": ["integer", "null"], "format": "int64"});
    let text = json!({"type": "string"});
    let text_or_null = json!({"type": ["string", "null"]});
    let reason = json!({"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "\\S", "description": "kept with the entry's history"});
    vec![
        (
            "Hash",
            json!({"type": "object", "required": ["type", "value"], "properties": {
            "type": r("HashType"), "value": {"type": "string", "description": "lower-case hex"}}}),
        ),
        (
            "EntryStatus",
            json!({"type": "string", "enum": ["active", "held", "suspended", "retracted"],
            "description": "only active entries are matched; held waits for review, suspended is out for now, retracted for good"}),
        ),
        (
            "Entry",
            json!({"type": "object", "required": ["id", "list_id", "key", "confirmations", "added_version", "added_at", "added_by", "import_note", "status"], "properties": {
            "id": int, "list_id": int, "key": r("Hash"),
            "quality": {"type": ["integer", "null"], "minimum": 0, "maximum": 100, "description": "PDQ quality, if the import gave it"},
            "ext_ref": {"type": ["string", "null"], "description": "the list owner's reference (case number, source record)"},
            "confirmations": {"type": "integer", "description": "independent analyst confirmations the import declared"},
            "added_version": {"type": "integer", "description": "the list version that added it"},
            "added_at": ms("when that version was made"),
            "added_by": {"type": "string", "description": "a key id, or cli:<user>"},
            "added_by_org": int_or_null, "import_note": text,
            "removed_version": {"type": ["integer", "null"], "description": "the version that removed it from the list"},
            "status": r("EntryStatus"),
            "hold_reason": {"type": ["string", "null"], "description": "why the import held it"}}}),
        ),
        (
            "EntryEvent",
            json!({"type": "object", "required": ["id", "entry_id", "at", "actor", "from", "to", "reason"], "properties": {
            "id": int, "entry_id": int,
            "seq": {"type": ["integer", "null"], "description": "the change sequence number it took, when it changed what checks answer"},
            "at": ms("when"), "actor": {"type": "string", "description": "a key id, cli:<user> or flood-rule"},
            "from": r("EntryStatus"), "to": r("EntryStatus"), "reason": text}}),
        ),
        (
            "HitStats",
            json!({"type": "object", "required": ["orgs", "hits", "conflicts"], "properties": {
            "orgs": {"type": "integer", "description": "distinct organisations whose checks it matched (allowlisted matches excluded)"},
            "hits": {"type": "integer", "description": "matches (allowlisted ones excluded)"},
            "conflicts": {"type": "integer", "description": "matches an allowlist overrode"},
            "first_at": ms_or_null("first match"), "last_at": ms_or_null("last match")}}),
        ),
        (
            "DisputeRecord",
            json!({"type": "object", "description": "a dispute as the list's managers see it with the entry", "properties": {
            "id": int, "created_at": ms("opened"), "org_id": int, "key_id": text, "entry_id": int, "list_id": int,
            "query": r("Hash"), "reason": text, "status": {"type": "string", "enum": ["open", "rejected", "upheld"]},
            "resolved_at": ms_or_null("resolved"), "resolved_by": text_or_null, "resolution": text_or_null}}),
        ),
        (
            "EntryDetail",
            json!({"type": "object", "required": ["entry", "events", "matches", "disputes"], "properties": {
            "entry": r("Entry"), "events": {"type": "array", "items": r("EntryEvent"), "description": "status changes, oldest first"},
            "matches": r("HitStats"), "disputes": {"type": "array", "items": r("DisputeRecord")}}}),
        ),
        (
            "SetEntryStatus",
            json!({"type": "object", "required": ["status", "reason"], "additionalProperties": false, "properties": {
            "status": {"type": "string", "enum": ["active", "suspended", "retracted"]}, "reason": reason}}),
        ),
        (
            "AllowlistEntry",
            json!({"type": "object", "required": ["allowlist_id", "reason"], "additionalProperties": false, "properties": {
            "allowlist_id": {"type": "integer", "format": "int64", "description": "a list with purpose allow, of the same organisation"}, "reason": reason}}),
        ),
        (
            "Conflict",
            json!({"type": "object", "required": ["id", "at", "entry_id", "allowed_by", "org_id", "distance"], "properties": {
            "id": int, "at": ms("when"),
            "entry_id": {"type": "integer", "description": "the block-list entry that matched"},
            "allowed_by": {"type": "integer", "description": "the allowlist entry that overrode it"},
            "org_id": {"type": "integer", "description": "the checking organisation"},
            "distance": {"type": "integer", "description": "to the block-list entry"}}}),
        ),
        (
            "Alert",
            json!({"type": "object", "required": ["id", "at", "kind", "message", "detail"], "properties": {
            "id": int, "at": ms("raised"), "kind": {"type": "string", "description": "flood, dispute, ..."},
            "list_id": int_or_null, "entry_id": int_or_null, "message": text,
            "detail": {"type": "object", "description": "the figures"},
            "acked_at": ms_or_null("acknowledged"), "acked_by": text_or_null}}),
        ),
        (
            "OpenDispute",
            json!({"type": "object", "required": ["type", "value", "reason"], "additionalProperties": false, "properties": {
            "type": r("HashType"), "value": {"type": "string", "pattern": HEX, "description": "the hash the organisation checked"},
            "reason": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "\\S"}}}),
        ),
        (
            "Dispute",
            json!({"type": "object", "required": ["id", "created_at", "list_id", "list", "category", "hash", "reason", "status"], "properties": {
            "id": int, "created_at": ms("opened"), "list_id": int, "list": text, "category": text,
            "hash": {"allOf": [r("Hash")], "description": "the hash the disputing organisation checked"},
            "reason": text, "status": {"type": "string", "enum": ["open", "rejected", "upheld"]},
            "resolved_at": ms_or_null("resolved"), "resolution": {"type": ["string", "null"], "description": "the manager's note"},
            "entry_id": {"type": "integer", "description": "list managers and admins only"},
            "org_id": {"type": "integer", "description": "the disputing organisation; list managers and admins only"}}}),
        ),
        (
            "ResolveDispute",
            json!({"type": "object", "required": ["outcome", "note"], "additionalProperties": false, "properties": {
            "outcome": {"type": "string", "enum": ["reject", "retract", "allowlist"]},
            "allowlist_id": {"type": ["integer", "null"], "format": "int64", "description": "required with allowlist, refused otherwise"},
            "note": reason}}),
        ),
        (
            "Retraction",
            json!({"type": "object", "required": ["id", "created_at", "list_id", "list", "category", "org_id", "first_hit_at", "last_hit_at", "hits", "reason", "queries"], "properties": {
            "id": int, "created_at": ms("retracted"), "list_id": int, "list": text, "category": text, "org_id": int,
            "first_hit_at": ms("the organisation's first match"), "last_hit_at": ms("its last match"),
            "hits": {"type": "integer", "description": "how many of its checks matched"}, "reason": text,
            "queries": {"type": "array", "maxItems": 1000, "items": r("Hash"), "description": "the organisation's own hashes that matched"}}}),
        ),
        (
            "OutboxMail",
            json!({"type": "object", "required": ["id", "reference", "to", "subject", "body", "attempts", "created_at"], "properties": {
            "id": int, "reference": {"type": "string", "description": "unique: never queued twice"},
            "to": {"type": "array", "items": {"type": "string"}}, "subject": text, "body": text,
            "json": {"type": ["string", "null"], "description": "a machine-readable part"},
            "attempts": {"type": "integer"}, "created_at": ms("queued"), "sent_at": ms_or_null("sent"),
            "failed_at": ms_or_null("given up"), "last_error": text_or_null}}),
        ),
        (
            "UpdateOrg",
            json!({"type": "object", "additionalProperties": false, "properties": {
            "email": {"type": ["string", "null"], "maxLength": 254, "description": "an address (`name@domain`, no commas or spaces); null, empty or absent clears it"}}}),
        ),
        (
            "Organisation",
            json!({"type": "object", "required": ["id", "name", "kind", "created_at"], "properties": {
            "id": int, "name": text, "kind": {"type": "string", "enum": ["police", "hotline", "hoster", "operator", "other"]},
            "created_at": ms("created"), "email": text_or_null}}),
        ),
    ]
}

const WORK_CASES: &str = "admin, analyst";

const FORBIDDEN_CASES: (&str, &str) = (
    "403",
    "`forbidden`: only analysts and admins work cases (reporter, hoster and list_manager keys get 403)",
);

const FORBIDDEN_CASES_REPORT: (&str, &str) = (
    "403",
    "`forbidden`: hoster and list_manager keys may not report",
);

fn path_param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": desc, "schema": {"type": "string"}})
}

fn text_param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string"}})
}

/// Notice and takedown: reports, cases, the hosters register and attribution (the routes of
/// `ntd_api`).
fn ntd_paths() -> Vec<(&'static str, Value)> {
    let submit = detail(
        op(
            "Report URLs: one or up to 10,000 in one request",
            "reporter, analyst, admin",
            Some(json_body("Submission")),
            json_ok(
                "One outcome per URL, in the order sent (`reports` first, then `urls`)",
                schema_ref("SubmissionAnswer"),
            ),
        ),
        "Each URL is normalised (lower-case scheme and host, punycode, no default port, no fragment) and joins the open case of the same URL, or opens one: also within the batch. A URL that cannot be reported (not http or https, an IP-address host, over 4096 bytes, an unknown category, ...) comes back as an `invalid` outcome with its `index` and `error` while the rest of the batch is stored. Reporter keys get no `case_id` in the outcomes. The source defaults to `partner`; `public` is the report form's alone.",
        vec![],
        &[
            (
                "400",
                "`empty_batch` (no `reports` and no `urls`), `malformed_json` (not JSON, an unknown field, an unknown source), `invalid_request` (source `public`, or an item without a category when the batch names none; `index` names it)",
            ),
            FORBIDDEN_CASES_REPORT,
            (
                "413",
                "`batch_too_large`: over 10,000 reports in one request (split the batch); `payload_too_large`: the body is over 16 MiB",
            ),
            (
                "415",
                "`unsupported_media_type`: the body is not `application/json`",
            ),
        ],
    );
    let status = detail(
        op(
            "What became of a report",
            "reporter (its own organisation's reports), analyst, admin",
            None,
            json_ok(
                "The report and its case's state",
                schema_ref("ReportStatus"),
            ),
        ),
        "",
        vec![path_param(
            "reference",
            "the reference number the report got (`R-XXXXX-XXXXX`)",
        )],
        &[
            FORBIDDEN_CASES_REPORT,
            (
                "404",
                "`not_found`: no such reference, or (for a reporter) one another organisation submitted",
            ),
        ],
    );
    let list = detail(
        op(
            "Cases: the queue and search",
            WORK_CASES,
            None,
            json_ok(
                "A page of cases and how many match in all",
                schema_ref("CaseList"),
            ),
        ),
        "`state=queue` is the analysts' queue (new and assessing), oldest first; `state=open` every state a new report would join. Other lists are newest first unless `order` says otherwise.",
        vec![
            text_param(
                "state",
                "comma-separated case states, or `queue`, or `open`; default all",
            ),
            text_param("category", "only this category"),
            json!({"name": "source", "in": "query", "description": "only cases with a report from this source", "schema": schema_ref("ReportSource")}),
            json!({"name": "hoster", "in": "query", "description": "only cases attributed to this hosters-register entry", "schema": {"type": "integer", "format": "int64"}}),
            text_param("q", "only cases whose URL contains this text"),
            json!({"name": "order", "in": "query", "schema": {"type": "string", "enum": ["oldest", "newest"]}, "description": "default: oldest for queue states, newest otherwise"}),
            json!({"name": "limit", "in": "query", "description": "default 100; cut to 1..1000", "schema": {"type": "integer", "format": "int64"}}),
            json!({"name": "offset", "in": "query", "description": "skip this many (default 0)", "schema": {"type": "integer", "format": "int64", "minimum": 0}}),
        ],
        &[
            (
                "400",
                "`invalid_request`: an unknown state, source or order, or an unknown query parameter",
            ),
            FORBIDDEN_CASES,
        ],
    );
    let case = detail(
        op(
            "One case with its reports, timeline and attribution",
            WORK_CASES,
            None,
            json_ok("The case", schema_ref("CaseDetail")),
        ),
        "",
        vec![int_param("id", "path", "the case")],
        &[FORBIDDEN_CASES, ("404", "`not_found`: no such case")],
    );
    let act = detail(
        op(
            "Record a verdict or a correction on a case",
            WORK_CASES,
            Some(json_body("CaseAction")),
            json_ok("The case after the action", schema_ref("Case")),
        ),
        "The state machine: new → assessing → actionable / not_actionable / forwarded; actionable → notified → removed → closed; not_actionable and forwarded → closed. Every action is an event on the case's timeline.",
        vec![int_param("id", "path", "the case")],
        &[
            (
                "400",
                "`malformed_json` (an unknown `action`, a missing field such as the reason of `not_actionable`), `invalid_request` (an empty reason, partner or note, an unknown category)",
            ),
            FORBIDDEN_CASES,
            (
                "404",
                "`not_found`: no such case (or, for `set_hoster`, no such hoster)",
            ),
            (
                "409",
                "`conflict`: the state machine refuses the move; the message names both states",
            ),
            (
                "415",
                "`unsupported_media_type`: the body is not `application/json`",
            ),
        ],
    );
    let mut attribute = detail(
        op(
            "Run attribution of a case again",
            WORK_CASES,
            None,
            json!({"description": "unused"}),
        ),
        "The attribution worker picks the case up within moments; the result appears on the case and its timeline.",
        vec![int_param("id", "path", "the case")],
        &[FORBIDDEN_CASES, ("404", "`not_found`: no such case")],
    );
    if let Some(r) = attribute["responses"].as_object_mut() {
        r.remove("200");
        r.insert(
            "202".into(),
            json!({"description": "Accepted: attribution will run again (no body)"}),
        );
    }
    let hoster_errors: [(&str, &str); 3] = [
        (
            "400",
            "`invalid_request` (no name, a bad prefix such as one with host bits set, a bad e-mail address, AS 0, a country that is not two letters, the webhook channel without a webhook_url), `malformed_json` (an unknown field)",
        ),
        FORBIDDEN_CASES,
        ("409", "`conflict`: a hoster with this name exists"),
    ];
    let hosters = detail(
        op(
            "The hosters register, by name",
            WORK_CASES,
            None,
            json_ok("Hosters", array_of("Hoster")),
        ),
        "",
        vec![],
        &[FORBIDDEN_CASES],
    );
    let create = detail(
        op(
            "Add a hoster (or CDN) to the register",
            WORK_CASES,
            Some(json_body("HosterFields")),
            json_ok("Created (201)", schema_ref("Hoster")),
        ),
        "The register wins over the loaded RIR data in attribution.",
        vec![],
        &hoster_errors,
    );
    let hoster = detail(
        op(
            "One register entry",
            WORK_CASES,
            None,
            json_ok("The hoster", schema_ref("Hoster")),
        ),
        "",
        vec![int_param("id", "path", "the hoster")],
        &[FORBIDDEN_CASES, ("404", "`not_found`: no such hoster")],
    );
    let update = detail(
        op(
            "Replace a register entry's fields",
            WORK_CASES,
            Some(json_body("HosterFields")),
            json_ok("The hoster", schema_ref("Hoster")),
        ),
        "Cases attributed to it show its new name.",
        vec![int_param("id", "path", "the hoster")],
        &[
            hoster_errors[0],
            hoster_errors[1],
            ("404", "`not_found`: no such hoster"),
            hoster_errors[2],
        ],
    );
    let attribution = detail(
        op(
            "The loaded attribution data; with `host`, attribute that host now",
            WORK_CASES,
            None,
            json_ok(
                "Data sources and sizes, and the lookup",
                schema_ref("AttributionInfo"),
            ),
        ),
        "",
        vec![text_param(
            "host",
            "a host name or URL to attribute (DNS, then the register and the loaded data)",
        )],
        &[
            (
                "400",
                "`invalid_request`: the host is not a public domain name (an IP address, a single label, ...), or an unknown query parameter",
            ),
            FORBIDDEN_CASES,
        ],
    );
    vec![
        ("/v1/reports", json!({"post": submit})),
        ("/v1/reports/{reference}", json!({"get": status})),
        ("/v1/cases", json!({"get": list})),
        ("/v1/cases/{id}", json!({"get": case})),
        ("/v1/cases/{id}/actions", json!({"post": act})),
        ("/v1/cases/{id}/attribute", json!({"post": attribute})),
        ("/v1/hosters", json!({"get": hosters, "post": create})),
        ("/v1/hosters/{id}", json!({"get": hoster, "put": update})),
        ("/v1/attribution", json!({"get": attribution})),
    ]
}

/// The schemas of [`ntd_paths`].
fn ntd_schemas() -> Vec<(&'static str, Value)> {
    let r = schema_ref;
    let ms = |desc: &str| json!({"type": "integer", "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let ms_or_null = |desc: &str| json!({"type": ["integer", "null"], "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let int = json!({"type": "integer", "format": "int64"});
    let int_or_null = json!({"type": ["integer", "null"], "format": "int64"});
    let text = json!({"type": "string"});
    let text_or_null = json!({"type": ["string", "null"]});
    let url = json!({"type": "string", "maxLength": 4096, "description": "an http or https URL with a domain name (no IP-address hosts); a URL without a scheme is read as http://"});
    let category = json!({"type": "string", "description": "a list category: csam, terrorism, ncii, other, or one an admin added"});
    let reason =
        json!({"type": ["string", "null"], "maxLength": 8192, "description": "for the timeline"});
    let action = |name: &str, required: &[&str], props: Value| {
        let mut req = vec!["action"];
        req.extend_from_slice(required);
        let mut p = props;
        p["action"] = json!({"const": name});
        json!({"type": "object", "required": req, "properties": p})
    };
    let hoster_props = json!({
            "name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "unique"},
            "org_id": {"type": ["integer", "null"], "format": "int64", "description": "its Schoon organisation, if any"},
            "asns": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 4294967295_u64}},
            "prefixes": {"type": "array", "items": text, "description": "CIDR (IPv4 or IPv6) with no host bits set; these win over RIR data"},
            "abuse": {"type": "array", "items": text, "description": "e-mail addresses notices go to"},
            "channel": {"type": "string", "enum": ["email", "webhook"], "default": "email"},
            "webhook_url": {"type": ["string", "null"], "description": "an http(s) URL; required with the webhook channel"},
            "coc_member": {"type": "boolean", "default": false, "description": "signed the code of conduct"},
            "cdn": {"type": "boolean", "default": false, "description": "a CDN or reverse proxy"},
            "country": {"type": ["string", "null"], "pattern": "^[A-Za-z]{2}$"},
            "notes": text_or_null});
    let mut hoster = hoster_props.clone();
    hoster["id"] = int.clone();
    hoster["updated_at"] = ms("last change");
    hoster["updated_by"] = json!({"type": "string", "description": "who changed it last"});
    let party = json!({"type": ["object", "null"], "properties": {
        "hoster_id": int_or_null, "name": text, "abuse": {"type": "array", "items": text},
        "coc_member": {"type": ["boolean", "null"]}, "source": text}});
    vec![
        (
            "ReportSource",
            json!({"type": "string", "enum": ["public", "partner", "crawler", "hash_check", "police"],
            "description": "where a report came from; `public` is the report form's"}),
        ),
        (
            "CaseState",
            json!({"type": "string", "enum": ["new", "assessing", "actionable", "not_actionable", "forwarded", "notified", "removed", "closed"]}),
        ),
        (
            "ReportItem",
            json!({"type": "object", "required": ["url"], "additionalProperties": false, "properties": {
            "url": url, "category": {"type": ["string", "null"], "description": "default: the batch's category"},
            "text": {"type": ["string", "null"], "maxLength": 8192, "description": "what the reporter saw"},
            "external_ref": {"type": ["string", "null"], "maxLength": 200, "description": "the reporter's own reference"}}}),
        ),
        (
            "Submission",
            json!({"type": "object", "additionalProperties": false, "description": "`reports` and `urls` together: 1 to 10,000 items", "properties": {
            "source": {"description": "default partner; public is refused here", "type": ["string", "null"], "enum": ["partner", "crawler", "hash_check", "police", "public", null]},
            "category": {"type": ["string", "null"], "description": "the category of every item that names none"},
            "reports": {"type": "array", "maxItems": 10000, "items": r("ReportItem")},
            "urls": {"type": "array", "maxItems": 10000, "items": url, "description": "shorthand: bare URLs in the batch's category"}}}),
        ),
        (
            "Outcome",
            json!({"type": "object", "required": ["index", "status"], "properties": {
            "index": {"type": "integer", "description": "the item's position in the submission (0-based)"},
            "status": {"type": "string", "enum": ["opened", "joined", "invalid"]},
            "url": {"type": "string", "description": "the normalised URL"},
            "case_id": {"type": "integer", "format": "int64", "description": "not shown to reporter keys"},
            "reference": {"type": "string", "description": "the report's reference number"},
            "error": {"type": "string", "description": "why an invalid item was refused"}}}),
        ),
        (
            "SubmissionAnswer",
            json!({"type": "object", "required": ["received", "opened", "joined", "invalid", "outcomes"], "properties": {
            "received": {"type": "integer"}, "opened": {"type": "integer", "description": "new cases"},
            "joined": {"type": "integer", "description": "reports that joined an open case"},
            "invalid": {"type": "integer"},
            "outcomes": {"type": "array", "items": r("Outcome"), "description": "in the order sent"}}}),
        ),
        (
            "ReportStatus",
            json!({"type": "object", "required": ["reference", "url", "received_at", "source", "category", "state"], "properties": {
            "reference": text, "url": {"type": "string", "description": "as reported"}, "received_at": ms("received"),
            "source": r("ReportSource"), "category": text, "state": r("CaseState")}}),
        ),
        (
            "Case",
            json!({"type": "object", "required": ["id", "url", "host", "category", "state", "opened_at", "updated_at", "reports", "sources"], "properties": {
            "id": int, "url": {"type": "string", "description": "the normalised URL (never fetched, shown as text)"}, "host": text,
            "category": text, "state": r("CaseState"), "opened_at": ms("first report"), "updated_at": ms("last change"),
            "reports": {"type": "integer"}, "sources": {"type": "array", "items": r("ReportSource")},
            "hoster_id": int_or_null, "hoster_name": text_or_null,
            "country": {"type": ["string", "null"], "description": "the hosting country, as attribution found it"},
            "forwarded_to": {"type": ["string", "null"], "description": "the partner hotline of a forwarded case"},
            "attributed_at": ms_or_null("attribution last ran")}}),
        ),
        (
            "CaseList",
            json!({"type": "object", "required": ["total", "cases"], "properties": {
            "total": {"type": "integer", "description": "cases matching, in all"}, "cases": {"type": "array", "items": r("Case")}}}),
        ),
        (
            "Report",
            json!({"type": "object", "required": ["id", "case_id", "at", "reference", "url", "category", "source", "actor"], "properties": {
            "id": int, "case_id": int, "at": ms("received"), "reference": text, "url": {"type": "string", "description": "as reported"},
            "category": text, "source": r("ReportSource"), "actor": {"type": "string", "description": "the submitting key's id, or public"},
            "org_id": int_or_null, "contact": text_or_null, "text": text_or_null, "external_ref": text_or_null}}),
        ),
        (
            "CaseEvent",
            json!({"type": "object", "required": ["id", "case_id", "at", "actor", "kind", "message"], "properties": {
            "id": int, "case_id": int, "at": ms("when"), "actor": {"type": "string", "description": "a key id, public, or system"},
            "kind": {"type": "string", "description": "opened, reported, state, attributed, attribution_failed, attribution_requested, hoster, category, note"},
            "from_state": {"oneOf": [r("CaseState"), {"type": "null"}]}, "to_state": {"oneOf": [r("CaseState"), {"type": "null"}]},
            "message": text, "detail": {"description": "details for machines"}}}),
        ),
        (
            "Attribution",
            json!({"type": "object", "required": ["host", "at", "cnames", "addrs", "evidence"], "properties": {
            "host": text, "at": ms("when"), "cnames": {"type": "array", "items": text},
            "addrs": {"type": "array", "items": {"type": "object", "properties": {
                "ip": text, "asn": int_or_null, "as_name": text_or_null, "netname": text_or_null,
                "country": text_or_null, "hoster": party, "cdn": party}}},
            "notify": {"description": "whom to notify: the CDN when the site is behind one, else the hoster", "anyOf": [party]},
            "hoster": party, "cdn": party, "country": text_or_null,
            "evidence": {"type": "array", "items": {"type": "object", "required": ["step", "value", "source"], "properties": {
                "step": text, "value": text, "source": text}}},
            "error": {"type": ["string", "null"], "description": "why attribution stopped short"}}}),
        ),
        (
            "CaseDetail",
            json!({"allOf": [r("Case"), {"type": "object", "required": ["reports_list", "timeline"], "properties": {
            "reports_list": {"type": "array", "items": r("Report"), "description": "oldest first"},
            "timeline": {"type": "array", "items": r("CaseEvent"), "description": "oldest first"},
            "attribution": {"oneOf": [r("Attribution"), {"type": "null"}]}}}]}),
        ),
        (
            "CaseAction",
            json!({"description": "tagged by `action`", "oneOf": [
                action("assess", &[], json!({})),
                action("actionable", &[], json!({"reason": reason})),
                action("not_actionable", &["reason"], json!({"reason": {"type": "string", "minLength": 1, "maxLength": 8192, "pattern": "\\S"}})),
                action("forward", &["partner"], json!({"partner": {"type": "string", "minLength": 1, "pattern": "\\S", "description": "the partner hotline abroad"}, "reason": reason})),
                action("close", &[], json!({"reason": reason})),
                action("recategorise", &["category"], json!({"category": category})),
                action("set_hoster", &["hoster_id"], json!({"hoster_id": int, "reason": reason})),
                action("note", &["text"], json!({"text": {"type": "string", "minLength": 1, "maxLength": 8192, "pattern": "\\S"}})),
            ]}),
        ),
        (
            "HosterFields",
            json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": hoster_props.clone()}),
        ),
        (
            "Hoster",
            json!({"type": "object", "required": ["id", "name", "asns", "prefixes", "abuse", "channel", "coc_member", "cdn", "updated_at", "updated_by"], "properties": hoster}),
        ),
        (
            "AttributionInfo",
            json!({"type": "object", "required": ["sources", "asn_ranges", "networks", "autnums", "hosters"], "properties": {
            "sources": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "description": "ip2asn or rpsl"}, "files": text, "loaded_at": ms("loaded"),
                "loaded_by": text, "records": {"type": "integer"}, "sha256": text}}},
            "asn_ranges": {"type": "integer"}, "networks": {"type": "integer"}, "autnums": {"type": "integer"},
            "hosters": {"type": "integer", "description": "register entries"},
            "lookup": r("Attribution")}}),
        ),
    ]
}

const FORBIDDEN_PORTAL: (&str, &str) = (
    "403",
    "`forbidden`: not a hoster key, or the key's organisation is not linked to an entry of the hosters register (ask the hotline)",
);

/// What a template may use, for the descriptions of the template routes.
const TEMPLATE_VARIABLES: &str = "Templates are MiniJinja (plain text, no auto-escaping, strict: an unknown variable is an error). Variables: `kind`, `reference`, `hoster`, `hoster_id`, `recipients`, `sent_at`, `deadline`, `norm_hours`, `hours_late`, `notified_at`, `portal_url`, `hotline.name`, `hotline.email`, `hotline.website`, `escalated_to`, `count`, `categories`, and `items`, each with `case_id`, `url`, `category`, `reported_at`, `addresses`, `notified_at`, `hours_since_notice`. Times are epoch milliseconds: show them with the `datetime` or `rfc3339` filter; `plural` makes `1 URL` / `3 URLs`.";

/// Notices, re-checks, notice templates (the routes of `notices_api`) and the hoster portal's
/// JSON API (`portal`).
fn notice_paths() -> Vec<(&'static str, Value)> {
    let notices = detail(
        op(
            "Notices, reminders and escalations, newest first",
            WORK_CASES,
            None,
            json_ok("Notices with every attempt's outcome", array_of("Notice")),
        ),
        "One notice lists every URL of one hoster that was due in its round.",
        vec![
            json!({"name": "case", "in": "query", "description": "only the notices that cover this case", "schema": {"type": "integer", "format": "int64"}}),
            json!({"name": "limit", "in": "query", "description": "default 100; cut to 1..1000", "schema": {"type": "integer", "minimum": 0}}),
        ],
        &[
            (
                "400",
                "`invalid_request`: `case` or `limit` is not a number",
            ),
            FORBIDDEN_CASES,
        ],
    );
    let notice = detail(
        op(
            "One notice as it was sent",
            WORK_CASES,
            None,
            json_ok("The notice", schema_ref("Notice")),
        ),
        "",
        vec![path_param(
            "reference",
            "the notice's reference (`N-XXXXX-XXXXX`)",
        )],
        &[FORBIDDEN_CASES, ("404", "`not_found`: no such notice")],
    );
    let checks = detail(
        op(
            "A case's re-checks, newest first",
            WORK_CASES,
            None,
            json_ok(
                "The latest 200 checks (none for a case never checked, or no such case)",
                array_of("CheckRow"),
            ),
        ),
        "Schoon re-fetches a notified URL (never storing the body, only its hashes) to see whether the material is gone; a notified case closes when a check finds it offline.",
        vec![int_param("id", "path", "the case")],
        &[
            ("400", "`invalid_request`: the id is not a number"),
            FORBIDDEN_CASES,
        ],
    );
    let templates = detail(
        op(
            "The notice templates: one per kind",
            WORK_CASES,
            None,
            json_ok(
                "notice, reminder and escalation, each saved or built-in",
                array_of("StoredTemplate"),
            ),
        ),
        TEMPLATE_VARIABLES,
        vec![],
        &[FORBIDDEN_CASES],
    );
    let kind = path_param("kind", "`notice`, `reminder` or `escalation`");
    let template_errors: [(&str, &str); 5] = [
        (
            "400",
            "`invalid_request`: the template does not render against a sample notice; the message names the part (subject or body) and, where known, the line: an unknown variable (with the names notices have), a syntax error, a subject over more than one line, a source over 64 KiB, a loop that runs too long, a body over 1 MiB. `malformed_json`: not JSON, a missing field, an unknown field",
        ),
        FORBIDDEN_CASES,
        (
            "404",
            "`not_found`: an unknown kind (use notice, reminder or escalation)",
        ),
        ("413", "`payload_too_large`: the body is over 2 MiB"),
        (
            "415",
            "`unsupported_media_type`: the body is not `application/json`",
        ),
    ];
    let save = detail(
        op(
            "Save the template of one kind",
            WORK_CASES,
            Some(json_body("TemplateSource")),
            json_ok(
                "The template as saved, with who saved it and when",
                schema_ref("StoredTemplate"),
            ),
        ),
        &format!(
            "It is rendered against a sample notice first and refused if that fails, so a broken template never reaches a hoster. Notices queued from then on use it. {TEMPLATE_VARIABLES}"
        ),
        vec![kind.clone()],
        &template_errors,
    );
    let preview = detail(
        op(
            "Render a template against a sample notice, without saving it",
            WORK_CASES,
            Some(json_body("TemplateSource")),
            json_ok("What a hoster would get", schema_ref("TemplatePreview")),
        ),
        &format!(
            "The same check as saving, so an answer here means saving would succeed. {TEMPLATE_VARIABLES}"
        ),
        vec![kind],
        &template_errors,
    );
    let portal_cases = detail(
        op(
            "The hoster portal: the caller's notified cases",
            "hoster (a key whose organisation is linked to an entry of the hosters register)",
            None,
            json_ok("The hoster and its cases", schema_ref("PortalCases")),
        ),
        "The cases whose notice went to the caller that are still open, or closed in the last 30 days: the URL, category, notice reference and deadline, never the reports, reporters or evidence. The same as the portal's page, for abuse desks that automate.",
        vec![],
        &[FORBIDDEN_PORTAL],
    );
    let respond = detail(
        op(
            "The hoster portal: answer a notice",
            "hoster (a key whose organisation is linked to an entry of the hosters register)",
            Some(json_body("HosterResponse")),
            json_ok("The case after the answer", schema_ref("PortalCase")),
        ),
        "`removed` makes a re-check of the URL due at once; the case closes only when the re-check finds the URL offline (until then it stays notified, and reminders follow if the material is still there). `not_host` (naming who is) and `dispute` (with a reason) go to an analyst and stop reminders and escalations. Each answer is an event on the case's timeline; a later answer replaces the earlier one.",
        vec![int_param("id", "path", "the case")],
        &[
            (
                "400",
                "`malformed_json` (not JSON, an unknown `response`, a missing `party` or `reason`), `invalid_request` (an empty party or reason, a text over 2000 bytes, an id that is not a number)",
            ),
            FORBIDDEN_PORTAL,
            (
                "404",
                "`not_found`: no such case among the notices sent to this hoster",
            ),
            (
                "409",
                "`conflict`: the case is no longer open (not in state notified); the message names its state",
            ),
            (
                "415",
                "`unsupported_media_type`: the body is not `application/json`",
            ),
        ],
    );
    vec![
        ("/v1/notices", json!({"get": notices})),
        ("/v1/notices/{reference}", json!({"get": notice})),
        ("/v1/cases/{id}/checks", json!({"get": checks})),
        ("/v1/templates", json!({"get": templates})),
        ("/v1/templates/{kind}", json!({"put": save})),
        ("/v1/templates/{kind}/preview", json!({"post": preview})),
        ("/v1/portal/cases", json!({"get": portal_cases})),
        ("/v1/portal/cases/{id}/response", json!({"post": respond})),
    ]
}

/// The schemas of [`notice_paths`].
fn notice_schemas() -> Vec<(&'static str, Value)> {
    let r = schema_ref;
    let ms = |desc: &str| json!({"type": "integer", "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let ms_or_null = |desc: &str| json!({"type": ["integer", "null"], "format": "int64", "description": format!("{desc}: milliseconds since the Unix epoch")});
    let int = json!({"type": "integer", "format": "int64"});
    let text = json!({"type": "string"});
    let source = |part: &str| json!({"type": "string", "maxLength": 65536, "description": format!("the {part}'s MiniJinja source")});
    let free_text = |desc: &str| json!({"type": "string", "maxLength": 2000, "minLength": 1, "pattern": "\\S", "description": format!("{desc} (at most 2000 bytes)")});
    let answer = |name: &str, required: &[&str], props: Value| {
        let mut req = vec!["response"];
        req.extend_from_slice(required);
        let mut p = props;
        p["response"] = json!({"const": name});
        json!({"type": "object", "required": req, "properties": p})
    };
    vec![
        (
            "NoticeKind",
            json!({"type": "string", "enum": ["notice", "reminder", "escalation"],
            "description": "notice: right after the verdict; reminder: the removal deadline passed and the material is still there; escalation: to the upstream network or an authority"}),
        ),
        (
            "Notice",
            json!({"type": "object", "required": ["id", "reference", "kind", "hoster_id", "channel", "recipients", "subject", "body", "json", "status", "queued_at", "attempts", "last_error", "sent_at", "message_id", "case_ids"], "properties": {
            "id": int, "reference": {"type": "string", "description": "`N-XXXXX-XXXXX`"}, "kind": r("NoticeKind"),
            "hoster_id": {"type": "integer", "format": "int64", "description": "the party it is about (and, but for escalations, sent to)"},
            "channel": {"type": "string", "enum": ["email", "webhook"]},
            "recipients": {"type": "array", "items": text, "description": "e-mail addresses, or the one webhook URL"},
            "subject": text, "body": {"type": "string", "description": "the rendered text"},
            "json": {"type": "string", "description": "the machine-readable part (schema `schoon-notice/1`) as JSON text"},
            "status": {"type": "string", "enum": ["queued", "sent", "failed"], "description": "queued: waiting for (another) attempt; sent: accepted by the SMTP server or the webhook; failed: given up on"},
            "queued_at": ms("queued"), "attempts": {"type": "integer", "description": "attempts to send so far"},
            "last_error": {"type": ["string", "null"], "description": "the last failed attempt's error"},
            "sent_at": ms_or_null("accepted"),
            "message_id": {"type": ["string", "null"], "description": "the e-mail's Message-ID (or the webhook's answer)"},
            "case_ids": {"type": "array", "items": int, "description": "the cases it covers"}}}),
        ),
        (
            "Verdict",
            json!({"type": "string", "enum": ["online", "offline", "changed", "inconclusive", "refused"],
            "description": "online: the material is still there; offline: gone (404/410/451, no such name, connection refused, a removal page); changed: the URL serves something else than at the first check; inconclusive: time-outs, server errors, access denied (tried again later); refused: not fetched, the URL or a redirect leads to an address Schoon does not connect to"}),
        ),
        (
            "Check",
            json!({"type": "object", "required": ["verdict", "reason", "status", "hops", "address", "content", "bytes", "truncated", "millis"], "properties": {
            "verdict": r("Verdict"),
            "reason": {"type": "string", "description": "why, in words: `HTTP 404`, `connection refused`, ..."},
            "status": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535, "description": "the last HTTP status received"},
            "hops": {"type": "array", "items": text, "description": "the URLs tried, in order: the URL, then each redirect target"},
            "address": {"type": ["string", "null"], "description": "the IP address the last request went to"},
            "content": {"type": ["object", "null"], "description": "the hashes of the final 2xx body when it was read completely (never the bytes)", "required": ["sha256", "pdq"], "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "pdq": {"type": ["string", "null"], "description": "64 hex digits, for an image of enough PDQ quality"}}},
            "bytes": {"type": "integer", "minimum": 0, "description": "bytes of the final 2xx body read"},
            "truncated": {"type": "boolean", "description": "the body was longer than the cap"},
            "millis": {"type": "integer", "minimum": 0, "description": "how long the check took, in milliseconds"}}}),
        ),
        (
            "CheckRow",
            json!({"type": "object", "required": ["id", "case_id", "at", "check"], "properties": {
            "id": int, "case_id": int, "at": ms("when it ran"), "check": r("Check")}}),
        ),
        (
            "Template",
            json!({"type": "object", "required": ["kind", "subject", "body"], "properties": {
            "kind": r("NoticeKind"), "subject": source("subject"), "body": source("body")}}),
        ),
        (
            "StoredTemplate",
            json!({"type": "object", "required": ["template", "updated"], "properties": {
            "template": r("Template"),
            "updated": {"type": ["array", "null"], "description": "who saved it last (a key id) and when (milliseconds since the Unix epoch); null: the built-in text",
                "prefixItems": [text, int], "minItems": 2, "maxItems": 2}}}),
        ),
        (
            "TemplateSource",
            json!({"type": "object", "required": ["subject", "body"], "additionalProperties": false, "properties": {
            "subject": {"type": "string", "maxLength": 65536, "description": "one line; the rendered subject is flattened and cut at 200 characters"},
            "body": source("body")}}),
        ),
        (
            "TemplatePreview",
            json!({"type": "object", "required": ["subject", "text", "json"], "properties": {
            "subject": {"type": "string", "description": "the rendered subject"},
            "text": {"type": "string", "description": "the rendered body"},
            "json": {"type": "object", "description": "the sample notice's machine-readable part (schema `schoon-notice/1`), which templates do not change"}}}),
        ),
        (
            "HosterResponse",
            json!({"description": "tagged by `response`", "oneOf": [
                answer("removed", &[], json!({"note": {"type": ["string", "null"], "maxLength": 2000, "description": "an optional remark (at most 2000 bytes)"}})),
                answer("not_host", &["party"], json!({"party": free_text("who the host is")})),
                answer("dispute", &["reason"], json!({"reason": free_text("why the notice is wrong")})),
            ]}),
        ),
        (
            "PortalCase",
            json!({"type": "object", "required": ["case_id", "url", "category", "state", "reference", "notified_at", "deadline", "hoster_said", "hoster_said_at", "last_verdict", "removed_at"], "properties": {
            "case_id": int, "url": text, "category": text, "state": r("CaseState"),
            "reference": {"type": "string", "description": "the notice's reference"},
            "notified_at": ms_or_null("notice sent"), "deadline": ms_or_null("removal expected by"),
            "hoster_said": {"type": ["string", "null"], "enum": ["removed", "not_host", "dispute", null], "description": "the hoster's latest answer"},
            "hoster_said_at": ms_or_null("answered"),
            "last_verdict": {"oneOf": [r("Verdict"), {"type": "null"}], "description": "the latest re-check's"},
            "removed_at": ms_or_null("removal verified")}}),
        ),
        (
            "PortalCases",
            json!({"type": "object", "required": ["hoster", "cases"], "properties": {
            "hoster": {"type": "object", "required": ["id", "name"], "properties": {"id": int, "name": text}},
            "cases": {"type": "array", "items": r("PortalCase")}}}),
        ),
    ]
}

const HEX: &str = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$";

/// The document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let r = schema_ref;
        let mut import = op(
            "Import a hash-list file into a list (one transaction)",
            "admin, list_manager of the owner",
            Some(json!({"required": false, "description": "A hash-list file: CSV/TSV with a header naming the hash type, or one hash per line. Lines that are not hashes make the import fail with 422 `invalid_file` (or are skipped with skip_invalid).", "content": {"text/csv": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}})),
            json_ok("What changed", r("ImportOutcome")),
        );
        import["responses"]["422"] = json!({"description": "Lines that are not hashes (`invalid_file`, listed in `details`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        import["parameters"] = json!([
            {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}},
            {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["add", "replace", "remove"]}},
            {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["md5", "sha1", "sha256", "pdq"]}, "description": "hash type of a file without a header"},
            {"name": "skip_invalid", "in": "query", "schema": {"type": "boolean"}},
            {"name": "hold_low_quality", "in": "query", "schema": {"type": "boolean"}, "description": "import PDQ rows below the quality gate as held (not matched until a list manager activates them) instead of refusing them"},
            {"name": "note", "in": "query", "schema": {"type": "string"}},
        ]);
        import["description"] = json!("Roles: admin, list_manager of the owner. Hashes the list retracted before are skipped (`retracted_skipped`); with hold_low_quality, low-quality PDQ rows are added as held (`held`).");
        let mut export = op(
            "Export a list's entries as CSV (type,hash,quality,ref,added_version)",
            "admin, list_manager of the owner",
            None,
            json!({"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}),
        );
        export["parameters"] = json!([
            {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}},
            {"name": "version", "in": "query", "schema": {"type": "integer", "format": "int64", "minimum": 0}},
        ]);
        let mut history = op(
            "When a hash was on a list",
            "admin, list_manager of the owner",
            None,
            json_ok("Presence intervals", json!({"type": "object"})),
        );
        history["parameters"] = json!([
            {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}},
            {"name": "type", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/HashType"}},
            {"name": "hash", "in": "query", "required": true, "schema": {"type": "string", "pattern": HEX}, "description": "hex of the type's length"},
        ]);
        let mut get_list = op("One list's metadata and entry counts", "admin, analyst, list_manager of the owner", None, json_ok("The list", r("List")));
        get_list["parameters"] = id_param();
        let mut versions = op("A list's versions", "admin, analyst, list_manager of the owner", None, json_ok("Oldest first", json!({"type": "array", "items": r("ListVersion")})));
        versions["parameters"] = id_param();
        let mut revoke = op("Revoke a key", "admin", None, json_ok("The revoked key", r("Key")));
        revoke["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        let mut audit = op("The audit log, newest first", "admin", None, json_ok("Records", json!({"type": "array", "items": {"type": "object"}})));
        audit["parameters"] = json!([
            {"name": "before", "in": "query", "schema": {"type": "integer", "format": "int64"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        ]);
        let mut health = op("Liveness and index size", "anyone", None, json_ok("OK", json!({"type": "object"})));
        health["security"] = json!([]);
        let mut spec = op("This document", "anyone", None, json_ok("OpenAPI 3.1", json!({"type": "object"})));
        spec["security"] = json!([]);
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Schoon hash-check API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Check hashes (MD5, SHA-1, SHA-256, PDQ) and images against police and hotline hash lists without seeing the lists; report URLs for notice and takedown and work the resulting cases (/v1/reports, /v1/cases, /v1/hosters, /v1/attribution). Every /v1 call needs `Authorization: Bearer schoon_...`. Errors are `{\"error\": {\"code\", \"message\", \"index\"?, \"details\"?}}` with a stable code. The HTML pages (`/`, `/report`: the public report form, `/ui/...`: the analysts' pages, signed in with a session cookie) are for browsers and not described here.",
            },
            "security": [{"bearer": []}],
            "paths": {
                "/v1/check": {"get": op("What a check client should know: the index's change sequence, batch and distance limits, this key's rate", "every role", None, json_ok("Service facts", r("CheckInfo"))), "post": op("Check a batch of hashes", "every role", Some(json_body("CheckRequest")), json_ok("One result per hash, in order", r("CheckResponse")))},
                "/v1/check/removals": {"post": op("Report matched items removed on your own initiative (a count only; the monitor shows it per hoster and month)", "every role", Some(json_body("RemovalsRequest")), json_ok("Recorded", r("RemovalsResponse")))},
                "/v1/check/image": {"post": op("Check an image: hashed in memory, never stored", "every role", Some(json!({"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}, "image/*": {"schema": {"type": "string", "format": "binary"}}}})), json_ok("The image's hashes and its matches", r("ImageResponse")))},
                "/v1/lists": {
                    "get": op("Lists this key may see", "admin, analyst, list_manager (own organisation)", None, json_ok("Lists", json!({"type": "array", "items": r("List")}))),
                    "post": op("Create a list", "admin, list_manager (own organisation)", Some(json_body("CreateList")), json_ok("Created (201)", r("List"))),
                },
                "/v1/lists/{id}": {"get": get_list},
                "/v1/lists/{id}/versions": {"get": versions},
                "/v1/lists/{id}/import": {"post": import},
                "/v1/lists/{id}/export": {"get": export},
                "/v1/lists/{id}/history": {"get": history},
                "/v1/orgs": {
                    "get": op("Organisations", "admin", None, json_ok("Organisations", json!({"type": "array", "items": {"type": "object"}}))),
                    "post": op("Create an organisation", "admin", Some(json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "kind"], "additionalProperties": false, "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "kind": {"type": "string", "enum": ["police", "hotline", "hoster", "operator", "other"]}}}}}})), json_ok("Created (201)", json!({"type": "object"}))),
                },
                "/v1/keys": {
                    "get": op("Keys (never their secrets)", "admin", None, json_ok("Keys", json!({"type": "array", "items": r("Key")}))),
                    "post": op("Create a key; the answer shows it once", "admin", Some(json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["org_id", "role"], "additionalProperties": false, "properties": {"org_id": {"type": "integer", "format": "int64"}, "role": {"type": "string", "enum": ["admin", "list_manager", "analyst", "hoster", "reporter"]}, "name": {"type": "string"}, "rate_per_sec": {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}}}}}})), json_ok("Created (201); `key` is shown only here", r("Key"))),
                },
                "/v1/keys/{id}": {"delete": revoke},
                "/v1/audit": {"get": audit},
                "/v1/categories": {
                    "get": op("The categories lists may have (csam, terrorism, ncii, other, and any added)", "admin, analyst, list_manager", None, json_ok("Category names", json!({"type": "array", "items": {"type": "string"}}))),
                    "post": op("Add a category", "admin", Some(json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}}}}}})), json_ok("Created (201): all categories", json!({"type": "array", "items": {"type": "string"}}))),
                },
                "/healthz": {"get": health},
                "/metrics": {"get": op("Prometheus metrics", "admin, or anyone if the operator made it public", None, json!({"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}))},
                "/openapi.json": {"get": spec},
            },
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "schoon_<id>_<secret>"}},
                "schemas": {
                    "HashType": {"type": "string", "enum": ["md5", "sha1", "sha256", "pdq"]},
                    "CheckRequest": {
                        "type": "object", "required": ["hashes"], "additionalProperties": false,
                        "properties": {
                            "hashes": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"oneOf": [
                                hash_item("md5", 32), hash_item("sha1", 40), hash_item("sha256", 64), hash_item("pdq", 64)]}},
                            "max_distance": {"type": ["integer", "null"], "minimum": 0, "maximum": 40, "description": "PDQ Hamming radius; default 31; the cap is the server's --max-radius (40 unless changed)"},
                        },
                    },
                    "Match": {"type": "object", "required": ["list_id", "list", "category", "list_version", "distance"], "properties": {
                        "list_id": {"type": "integer"}, "list": {"type": "string"}, "category": {"type": "string"},
                        "list_version": {"type": "integer", "description": "the list version the match was made against"},
                        "distance": {"type": "integer", "description": "PDQ Hamming distance; 0 for digests"},
                        "hash_type": r("HashType")}},
                    "RemovalsRequest": {"type": "object", "additionalProperties": false, "required": ["removed"], "properties": {
                        "removed": {"type": "integer", "minimum": 1, "maximum": 100000, "description": "Matched items taken offline without a notice"}}},
                    "RemovalsResponse": {"type": "object", "required": ["recorded"], "properties": {"recorded": {"type": "integer"}}},
                    "CheckInfo": {"type": "object", "required": ["index_seq", "max_batch", "default_distance", "max_distance", "rate_per_sec"], "properties": {
                        "index_seq": {"type": "integer", "format": "int64", "description": "Grows whenever any list changes; an answer stored with it stays valid while it is unchanged"},
                        "max_batch": {"type": "integer"},
                        "default_distance": {"type": "integer"},
                        "max_distance": {"type": "integer"},
                        "rate_per_sec": {"type": "integer", "description": "Hashes per second this key may check"},
                    }},
                    "CheckResponse": {"type": "object", "required": ["results", "index_seq"], "properties": {
                        "results": {"type": "array", "items": {"type": "object", "required": ["matched"], "properties": {
                            "matched": {"type": "boolean"}, "matches": {"type": "array", "items": r("Match")}}}},
                        "index_seq": {"type": "integer"}}},
                    "ImageResponse": {"type": "object", "required": ["matched", "matches", "hashes", "index_seq"], "properties": {
                        "matched": {"type": "boolean"}, "matches": {"type": "array", "items": r("Match")},
                        "hashes": {"type": "object"}, "index_seq": {"type": "integer"}}},
                    "CreateList": {"type": "object", "required": ["name", "category"], "additionalProperties": false, "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"}, "category": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$", "description": "csam, terrorism, ncii, other, or one an admin added"},
                        "owner_org_id": {"type": ["integer", "null"], "format": "int64", "description": "default: the caller's organisation"}, "description": {"type": "string"}, "source": {"type": "string"},
                        "purpose": {"type": ["string", "null"], "enum": ["block", "allow", null], "description": "block (the default): matches are reported; allow: an allowlist, whose matches override every block list's"}}},
                    "List": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string"}, "owner_org_id": {"type": "integer"}, "category": {"type": "string"},
                        "description": {"type": "string"}, "source": {"type": "string"}, "version": {"type": "integer"},
                        "purpose": {"type": "string", "enum": ["block", "allow"]},
                        "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "entries": {"type": "object"}}},
                    "ListVersion": {"type": "object", "properties": {
                        "list_id": {"type": "integer"}, "version": {"type": "integer"}, "seq": {"type": "integer"}, "created_at": {"type": "integer"},
                        "actor": {"type": "string"}, "mode": {"type": "string"}, "added": {"type": "integer"}, "removed": {"type": "integer"}, "note": {"type": "string"}}},
                    "ImportOutcome": {"type": "object", "required": ["list_version", "source", "distinct", "added", "removed", "held", "retracted_skipped"], "properties": {
                        "version": {"oneOf": [r("ListVersion"), {"type": "null"}], "description": "the new version; null if nothing changed"},
                        "list_version": {"type": "integer", "description": "the list's version after the import"},
                        "source": r("ImportSource"),
                        "distinct": {"type": "integer", "description": "distinct hashes in the input"},
                        "added": {"type": "integer"}, "removed": {"type": "integer"},
                        "held": {"type": "integer", "description": "of the added entries, those held for review (not matched until activated)"},
                        "retracted_skipped": {"type": "integer", "description": "input hashes skipped because the list retracted them before"}}},
                    "ImportSource": {"type": "object", "description": "what the file held", "properties": {
                        "lines": {"type": "integer"}, "rows": {"type": "integer"},
                        "invalid": {"type": "integer", "description": "lines that could not be read (skipped with skip_invalid)"},
                        "errors": {"type": "array", "items": r("LineError"), "description": "the first of them"},
                        "refused": {"type": "integer", "description": "rows the quality gate refused"},
                        "refusals": {"type": "array", "items": r("LineError")},
                        "held": {"type": "integer", "description": "rows the quality gate held for review"}}},
                    "LineError": {"type": "object", "properties": {"line": {"type": "integer"}, "message": {"type": "string"}}},
                    "Key": {"type": "object", "properties": {
                        "key": {"type": "string", "description": "only in the answer to POST /v1/keys"},
                        "id": {"type": "string"}, "org_id": {"type": "integer"}, "role": {"type": "string"}, "name": {"type": "string"},
                        "rate_per_sec": {"type": ["integer", "null"]}, "created_at": {"type": "integer"}, "revoked_at": {"type": ["integer", "null"]}}},
                    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                        "type": "object", "required": ["code", "message"], "properties": {
                            "code": {"type": "string", "enum": ERROR_CODES},
                            "message": {"type": "string"},
                            "index": {"type": "integer", "description": "the batch item the error is about"},
                            "details": {"type": "object"}}}}},
                },
            },
        });
        for (path, item) in trust_paths() {
            doc["paths"][path] = item;
        }
        for (name, schema) in trust_schemas() {
            doc["components"]["schemas"][name] = schema;
        }
        for (path, item) in ntd_paths() {
            doc["paths"][path] = item;
        }
        for (name, schema) in ntd_schemas() {
            doc["components"]["schemas"][name] = schema;
        }
        for (path, item) in notice_paths() {
            doc["paths"][path] = item;
        }
        for (name, schema) in notice_schemas() {
            doc["components"]["schemas"][name] = schema;
        }
        for (path, item) in monitor::paths() {
            doc["paths"][path] = item;
        }
        for (name, schema) in monitor::schemas() {
            doc["components"]["schemas"][name] = schema;
        }
        doc
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<&'static Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for (method, path) in ROUTES {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(described, ROUTES.len());
    }

    /// The `(method, path)` pairs the router in `lib.rs` serves, read from its source: every
    /// `.route("path", ...)` call with the method routers (`get(`, `post(`, ...) it names.
    fn routed() -> Vec<(String, String)> {
        let src = include_str!("lib.rs");
        let start = src.find("pub fn router(").expect("lib.rs has router()");
        let end = start + src[start..].find("\n}\n").expect("router() ends");
        let body = &src[start..end];
        let nest = body
            .find(".nest(\"/v1\"")
            .expect("the /v1 routes are nested");
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(i) = body[at..].find(".route(") {
            let call = at + i + ".route(".len();
            let open = call + body[call..].find('"').expect("a path literal");
            let close = open + 1 + body[open + 1..].find('"').expect("the literal ends");
            let path = &body[open + 1..close];
            let next = body[close..]
                .find(".route(")
                .map_or(body.len(), |j| close + j);
            let args = &body[close..next];
            let prefix = if call < nest { "/v1" } else { "" };
            for method in ["get", "post", "put", "patch", "delete"] {
                let token = format!("{method}(");
                let named = args.match_indices(&token).any(|(k, _)| {
                    !args[..k]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if named {
                    out.push((method.to_string(), format!("{prefix}{path}")));
                }
            }
            at = close;
        }
        out
    }

    #[test]
    fn routes_match_the_router() {
        let mut routed = routed();
        routed.sort();
        let mut listed: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        listed.sort();
        assert!(routed.len() > 20, "the router was not read: {routed:?}");
        assert_eq!(listed, routed, "ROUTES and the router in lib.rs differ");
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, schemas: &Value, path: &str) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
                        assert!(schemas[name].is_object(), "{path}: {r} is not defined");
                    }
                    for (k, x) in o {
                        walk(x, schemas, &format!("{path}/{k}"));
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, schemas, path)),
                _ => {}
            }
        }
        let doc = document();
        walk(doc, &doc["components"]["schemas"], "");
        // Path parameters are declared for every `{name}` in the path.
        for (method, path) in ROUTES {
            let declared: Vec<&str> = doc["paths"][path][method]["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let wanted: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, wanted, "{method} {path}");
        }
    }

    #[test]
    fn every_error_code_is_described() {
        use crate::error::{Code, code_name};
        let all = [
            Code::MalformedJson,
            Code::UnsupportedMediaType,
            Code::UnknownHashType,
            Code::InvalidHash,
            Code::BatchTooLarge,
            Code::EmptyBatch,
            Code::RadiusTooLarge,
            Code::PayloadTooLarge,
            Code::UnreadableImage,
            Code::InvalidRequest,
            Code::InvalidFile,
            Code::Unauthenticated,
            Code::UnknownKey,
            Code::RevokedKey,
            Code::Forbidden,
            Code::NotFound,
            Code::Conflict,
            Code::RateLimited,
            Code::Internal,
            Code::Unavailable,
        ];
        let names: Vec<&str> = all.iter().map(|c| code_name(*c)).collect();
        assert_eq!(names, ERROR_CODES);
    }
}
