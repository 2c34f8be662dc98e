//! The login API (id 1): `login` and `get_api_by_name`. The node serves its APIs to
//! everyone, as a public BitShares node does, so `login` accepts any credentials.

use crate::rpc::dispatch::{api_id, Params};
use crate::rpc::RpcError;
use serde_json::Value;

pub fn call(method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    Some(match method {
        "login" => p.at_most(2).map(|()| Value::Bool(true)),
        "get_api_by_name" => p
            .get::<String>(0, "API name")
            .map(|name| api_id(&name).map_or(Value::Null, Value::from)),
        _ => return None,
    })
}
