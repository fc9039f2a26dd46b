//! The OpenAPI 3.1 description served at `/openapi.json`.
//!
//! Written out here rather than derived: the API is small, the handlers parse bodies
//! themselves (for stable error codes), and a derive would describe axum's extractors rather
//! than the contract. A test checks that every route and every error code is described.

use axum::Json;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Every route, as `(method, path)`. The router and this document must agree (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/check"),
    ("post", "/v1/check"),
    ("post", "/v1/check/image"),
    ("get", "/v1/lists"),
    ("post", "/v1/lists"),
    ("get", "/v1/lists/{id}"),
    ("get", "/v1/lists/{id}/versions"),
    ("post", "/v1/lists/{id}/import"),
    ("get", "/v1/lists/{id}/export"),
    ("get", "/v1/lists/{id}/history"),
    ("get", "/v1/orgs"),
    ("post", "/v1/orgs"),
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

/// One item of a check request: the value's length follows from the type.
fn hash_item(kind: &str, digits: usize) -> Value {
    json!({"type": "object", "required": ["type", "value"], "additionalProperties": false,
           "properties": {"type": {"const": kind}, "value": {"type": "string", "pattern": format!("^[0-9a-fA-F]{{{digits}}}$")}}})
}

const HEX: &str = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$";

/// The document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let r = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
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
            {"name": "note", "in": "query", "schema": {"type": "string"}},
        ]);
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
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Schoon hash-check API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Check hashes (MD5, SHA-1, SHA-256, PDQ) and images against police and hotline hash lists without seeing the lists. Every /v1 call needs `Authorization: Bearer schoon_...`. Errors are `{\"error\": {\"code\", \"message\", \"index\"?, \"details\"?}}` with a stable code.",
            },
            "security": [{"bearer": []}],
            "paths": {
                "/v1/check": {"get": op("What a check client should know: the index's change sequence, batch and distance limits, this key's rate", "every role", None, json_ok("Service facts", r("CheckInfo"))), "post": op("Check a batch of hashes", "every role", Some(json_body("CheckRequest")), json_ok("One result per hash, in order", r("CheckResponse")))},
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
                    "post": op("Create a key; the answer shows it once", "admin", Some(json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["org_id", "role"], "additionalProperties": false, "properties": {"org_id": {"type": "integer", "format": "int64"}, "role": {"type": "string", "enum": ["admin", "list_manager", "analyst", "hoster"]}, "name": {"type": "string"}, "rate_per_sec": {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}}}}}})), json_ok("Created (201); `key` is shown only here", r("Key"))),
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
                        "owner_org_id": {"type": ["integer", "null"], "format": "int64", "description": "default: the caller's organisation"}, "description": {"type": "string"}, "source": {"type": "string"}}},
                    "List": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string"}, "owner_org_id": {"type": "integer"}, "category": {"type": "string"},
                        "description": {"type": "string"}, "source": {"type": "string"}, "version": {"type": "integer"},
                        "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}, "entries": {"type": "object"}}},
                    "ListVersion": {"type": "object", "properties": {
                        "list_id": {"type": "integer"}, "version": {"type": "integer"}, "seq": {"type": "integer"}, "created_at": {"type": "integer"},
                        "actor": {"type": "string"}, "mode": {"type": "string"}, "added": {"type": "integer"}, "removed": {"type": "integer"}, "note": {"type": "string"}}},
                    "ImportOutcome": {"type": "object"},
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
        })
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
