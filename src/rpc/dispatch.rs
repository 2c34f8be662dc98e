//! The wire format (`API.md`): a request is
//!
//! * `{"method":"call","params":[API, METHOD, [ARGS...]]}`, with API a name
//!   (`"database"`) or an id (`0` = database, `1` = login, as `get_api_by_name` says);
//! * or `{"method":METHOD,"params":[ARGS...]}`, a bare method of the database API;
//! * or an array of those (a batch), answered by an array in the same order.
//!
//! Answers carry the request's `id`; a request without one is a notification and gets
//! no answer. Errors use the JSON-RPC codes in [`super::code`].

use super::apis;
use super::subscribe::Session;
use super::{code, Context, RpcError};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// The APIs by id: the index is the id `get_api_by_name` gives.
pub const APIS: [&str; 7] = [
    "database",
    "login",
    "network_broadcast",
    "history",
    "block",
    "asset",
    "network_node",
];

/// The id of the API named `name`.
pub fn api_id(name: &str) -> Option<usize> {
    APIS.iter().position(|a| *a == name)
}

/// A method's positional parameters, with errors that name the method, the position
/// and what was expected.
pub struct Params<'a> {
    pub method: &'a str,
    pub values: &'a [Value],
}

impl Params<'_> {
    /// Parameter `i` (0-based), required.
    pub fn get<T: DeserializeOwned>(&self, i: usize, what: &str) -> Result<T, RpcError> {
        match self.values.get(i) {
            Some(v) => self.parse(i, what, v),
            None => Err(RpcError::invalid_params(format!(
                "{}: missing parameter {} ({what})",
                self.method,
                i + 1
            ))),
        }
    }
    /// Parameter `i`, or `None` when it is absent or null.
    pub fn opt<T: DeserializeOwned>(&self, i: usize, what: &str) -> Result<Option<T>, RpcError> {
        match self.values.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.parse(i, what, v).map(Some),
        }
    }
    fn parse<T: DeserializeOwned>(&self, i: usize, what: &str, v: &Value) -> Result<T, RpcError> {
        T::deserialize(v).map_err(|e| {
            RpcError::invalid_params(format!(
                "{}: parameter {} ({what}) is invalid: {e}",
                self.method,
                i + 1
            ))
        })
    }
    /// At most this many parameters.
    pub fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.values.len() > n {
            return Err(RpcError::invalid_params(format!(
                "{} takes at most {n} parameter(s), got {}",
                self.method,
                self.values.len()
            )));
        }
        Ok(())
    }
    /// A `limit` parameter: omitted means `max`; above `max` is refused, naming the
    /// setting that holds the maximum.
    pub fn limit(&self, i: usize, max: u32) -> Result<usize, RpcError> {
        match self.opt::<u64>(i, "limit")? {
            None => Ok(max as usize),
            Some(l) if l > max as u64 => Err(RpcError::invalid_params(format!(
                "{}: limit {l} exceeds the maximum {max} (rpc.limits.{})",
                self.method, self.method
            ))),
            Some(l) => Ok(l as usize),
        }
    }
    /// A list parameter of at most `max` entries (`rpc.limits.METHOD`).
    pub fn list<T: DeserializeOwned>(
        &self,
        i: usize,
        what: &str,
        max: u32,
    ) -> Result<Vec<T>, RpcError> {
        let items: Vec<Value> = self.get(i, what)?;
        if items.len() > max as usize {
            return Err(RpcError::invalid_params(format!(
                "{}: {} entries in {what} exceed the maximum {max} (rpc.limits.{})",
                self.method,
                items.len(),
                self.method
            )));
        }
        items
            .iter()
            .map(|v| self.parse(i, what, v))
            .collect::<Result<Vec<T>, _>>()
    }
}

/// Answers one request text (a request or a batch); `None` when nothing is owed (a
/// notification, or a batch of them).
pub fn handle_text(ctx: &Context, text: &str) -> Option<Value> {
    handle_text_in(ctx, text, None)
}

/// As [`handle_text`], on a connection with subscriptions (a WebSocket session).
pub fn handle_text_in(ctx: &Context, text: &str, session: Option<&Session>) -> Option<Value> {
    let request: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(error_answer(
                Value::Null,
                &RpcError::new(code::PARSE_ERROR, format!("parse error: {e}")),
            ))
        }
    };
    match request {
        Value::Array(items) => {
            if items.is_empty() {
                return Some(error_answer(
                    Value::Null,
                    &RpcError::new(code::INVALID_REQUEST, "empty batch"),
                ));
            }
            if items.len() > ctx.config.batch_max {
                return Some(error_answer(
                    Value::Null,
                    &RpcError::new(
                        code::INVALID_REQUEST,
                        format!(
                            "batch of {} requests exceeds the maximum {} (rpc.batch_max)",
                            items.len(),
                            ctx.config.batch_max
                        ),
                    ),
                ));
            }
            let answers: Vec<Value> = items
                .iter()
                .filter_map(|r| handle_one(ctx, r, session))
                .collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => handle_one(ctx, &single, session),
    }
}

/// Answers one request object.
pub fn handle_one(ctx: &Context, request: &Value, session: Option<&Session>) -> Option<Value> {
    let Some(obj) = request.as_object() else {
        return Some(error_answer(
            Value::Null,
            &RpcError::new(code::INVALID_REQUEST, "a request must be a JSON object"),
        ));
    };
    let id = obj.get("id").cloned();
    let result = call(ctx, obj, session);
    ctx.calls.fetch_add(1, Ordering::Relaxed);
    if result.is_err() {
        ctx.errors.fetch_add(1, Ordering::Relaxed);
    }
    let id = id?;
    Some(match result {
        Ok(v) => json!({"id": id, "jsonrpc": "2.0", "result": v}),
        Err(e) => error_answer(id, &e),
    })
}

/// The error answer to request `id` (`null` when it is not known).
pub fn error_answer(id: Value, e: &RpcError) -> Value {
    json!({"id": id, "jsonrpc": "2.0", "error": {"code": e.code, "message": e.message}})
}

fn call(
    ctx: &Context,
    obj: &serde_json::Map<String, Value>,
    session: Option<&Session>,
) -> Result<Value, RpcError> {
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.as_str(),
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "method must be a string",
            ))
        }
        None => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "a request needs a method",
            ))
        }
    };
    let empty = Vec::new();
    let params = match obj.get("params") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "params must be an array",
            ))
        }
    };
    if method != "call" {
        return apis::call(ctx, session, "database", method, params);
    }
    let [api, method, args] = params.as_slice() else {
        return Err(RpcError::invalid_params(
            "call takes [API, METHOD, [ARGUMENTS]]",
        ));
    };
    let api = match api {
        Value::String(name) => name.as_str(),
        Value::Number(n) => n
            .as_u64()
            .and_then(|i| APIS.get(i as usize).copied())
            .ok_or_else(|| RpcError::new(code::METHOD_NOT_FOUND, format!("no API with id {n}")))?,
        _ => return Err(RpcError::invalid_params("call: the API is a name or an id")),
    };
    let Value::String(method) = method else {
        return Err(RpcError::invalid_params("call: the method is a string"));
    };
    let args = match args {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        _ => return Err(RpcError::invalid_params("call: the arguments are an array")),
    };
    apis::call(ctx, session, api, method, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StateReader;
    use crate::rpc::RpcConfig;
    use crate::test_utils::DevChain;

    fn ctx() -> Context {
        let dev = DevChain::with_users(2, 1_000);
        let config = RpcConfig {
            batch_max: 3,
            ..RpcConfig::default()
        };
        Context::new(StateReader::detached(dev.chain), config)
    }

    fn code_of(v: &Value) -> i64 {
        v["error"]["code"].as_i64().unwrap_or(0)
    }

    #[test]
    fn request_shapes_and_their_errors() {
        let c = ctx();
        let answer = |t: &str| handle_text(&c, t).expect("an answer");
        assert_eq!(code_of(&answer("[]")), code::INVALID_REQUEST);
        assert_eq!(code_of(&answer("7")), code::INVALID_REQUEST);
        assert_eq!(code_of(&answer(r#"{"id":1}"#)), code::INVALID_REQUEST);
        assert_eq!(
            code_of(&answer(r#"{"id":1,"method":3}"#)),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code_of(&answer(r#"{"id":1,"method":"get_chain_id","params":{}}"#)),
            code::INVALID_REQUEST
        );
        assert_eq!(
            code_of(&answer(r#"{"id":1,"method":"call","params":[99,"x",[]]}"#)),
            code::METHOD_NOT_FOUND
        );
        assert_eq!(
            code_of(&answer(
                r#"{"id":1,"method":"call","params":["database","get_chain_id"]}"#
            )),
            code::INVALID_PARAMS
        );
        // Ids come back as they were sent, strings included.
        let a = answer(r#"{"id":"x-1","method":"get_account_count"}"#);
        assert_eq!(a["id"], "x-1");
        assert!(a["result"].as_u64().unwrap() > 2);
        // Notifications get nothing, alone or in a batch.
        assert!(handle_text(&c, r#"{"method":"get_chain_id"}"#).is_none());
        assert!(handle_text(&c, r#"[{"method":"get_chain_id"}]"#).is_none());
        // The batch cap names its setting.
        let four = r#"[{"id":1,"method":"get_chain_id"},{"id":2,"method":"get_chain_id"},
            {"id":3,"method":"get_chain_id"},{"id":4,"method":"get_chain_id"}]"#;
        let a = answer(four);
        assert_eq!(code_of(&a), code::INVALID_REQUEST);
        assert!(a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rpc.batch_max"));
        // Every request object is counted (notifications too); a refused batch or a
        // non-object is not a call.
        assert_eq!(c.calls.load(Ordering::Relaxed), 8);
        assert_eq!(c.errors.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn limits_default_to_their_maximum_and_name_it() {
        let values = [Value::from("a"), Value::from(7u32)];
        let p = Params {
            method: "lookup_accounts",
            values: &values[..1],
        };
        assert_eq!(p.limit(1, 10).unwrap(), 10);
        let p = Params {
            method: "lookup_accounts",
            values: &values,
        };
        assert_eq!(p.limit(1, 10).unwrap(), 7);
        let e = p.limit(1, 5).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert_eq!(
            e.message,
            "lookup_accounts: limit 7 exceeds the maximum 5 (rpc.limits.lookup_accounts)"
        );
        assert!(p.get::<u32>(0, "name").is_err(), "a string is not a number");
        assert!(p
            .get::<String>(2, "missing")
            .unwrap_err()
            .message
            .contains("missing parameter 3"));
    }
}
