//! Component-model values as JSON: one encoding per WIT type, its JSON
//! Schema, and conversion both ways. Used to call a component's exported
//! functions with JSON arguments (MCP component tools).
//!
//! | WIT | JSON |
//! |---|---|
//! | `bool`, integers, `f32`/`f64` | booleans and numbers (`"NaN"`, `"inf"`, `"-inf"` for non-finite floats) |
//! | `char`, `string` | strings |
//! | `list<T>`, fixed-length lists | arrays |
//! | `tuple<A, B>` | arrays of that length |
//! | `record` | objects with the fields as keys |
//! | `variant` | `{"case": payload}`, or the case name alone for a case without a payload |
//! | `enum` | the case name |
//! | `option<T>` | `null` or the value |
//! | `result<T, E>` | `{"ok": value}` or `{"err": value}` (`null` without a payload) |
//! | `flags` | an array of the set flags' names |
//! | `map<K, V>` | an array of `[key, value]` pairs |
//!
//! Resources, futures, streams and error contexts have no JSON form: a
//! function that takes or returns one cannot be called this way.

use serde_json::{Map, Value, json};
use wasmtime::component::{Type, Val};

/// Why a type has no JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} values have no JSON form")]
pub struct Unsupported(&'static str);

/// The JSON Schema of `ty`'s encoding.
pub fn schema(ty: &Type) -> Result<Value, Unsupported> {
    let int = |min: i128, max: i128| json!({"type": "integer", "minimum": min, "maximum": max});
    Ok(match ty {
        Type::Bool => json!({"type": "boolean"}),
        Type::S8 => int(i8::MIN.into(), i8::MAX.into()),
        Type::U8 => int(0, u8::MAX.into()),
        Type::S16 => int(i16::MIN.into(), i16::MAX.into()),
        Type::U16 => int(0, u16::MAX.into()),
        Type::S32 => int(i32::MIN.into(), i32::MAX.into()),
        Type::U32 => int(0, u32::MAX.into()),
        Type::S64 => int(i64::MIN.into(), i64::MAX.into()),
        Type::U64 => int(0, u64::MAX.into()),
        Type::Float32 | Type::Float64 => json!({"anyOf": [{"type": "number"}, {"enum": ["NaN", "inf", "-inf"]}]}),
        Type::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        Type::String => json!({"type": "string"}),
        Type::List(l) => json!({"type": "array", "items": schema(&l.ty())?}),
        Type::FixedLengthList(l) => {
            json!({"type": "array", "items": schema(&l.ty())?, "minItems": l.len(), "maxItems": l.len()})
        }
        Type::Map(m) => json!({"type": "array", "items": {
            "type": "array", "prefixItems": [schema(&m.key())?, schema(&m.value())?], "minItems": 2, "maxItems": 2,
        }}),
        Type::Tuple(t) => {
            let items = t.types().map(|t| schema(&t)).collect::<Result<Vec<_>, _>>()?;
            json!({"type": "array", "prefixItems": items, "minItems": items.len(), "maxItems": items.len()})
        }
        Type::Record(r) => {
            let mut props = Map::new();
            let mut required = Vec::new();
            for f in r.fields() {
                props.insert(f.name.into(), schema(&f.ty)?);
                if !matches!(f.ty, Type::Option(_)) {
                    required.push(f.name);
                }
            }
            json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
        }
        Type::Variant(v) => {
            let mut cases = Vec::new();
            for c in v.cases() {
                cases.push(match &c.ty {
                    None => json!({"const": c.name}),
                    Some(t) => json!({"type": "object", "properties": {c.name: schema(t)?}, "required": [c.name],
                                      "additionalProperties": false}),
                });
            }
            json!({"oneOf": cases})
        }
        Type::Enum(e) => json!({"type": "string", "enum": e.names().collect::<Vec<_>>()}),
        Type::Option(o) => json!({"anyOf": [{"type": "null"}, schema(&o.ty())?]}),
        Type::Result(r) => {
            let side = |t: Option<Type>| t.map_or(Ok(json!({"type": "null"})), |t| schema(&t));
            json!({"oneOf": [
                {"type": "object", "properties": {"ok": side(r.ok())?}, "required": ["ok"], "additionalProperties": false},
                {"type": "object", "properties": {"err": side(r.err())?}, "required": ["err"], "additionalProperties": false},
            ]})
        }
        Type::Flags(f) => json!({"type": "array", "items": {"type": "string", "enum": f.names().collect::<Vec<_>>()},
                                  "uniqueItems": true}),
        Type::Own(_) | Type::Borrow(_) => return Err(Unsupported("resource")),
        Type::Future(_) => return Err(Unsupported("future")),
        Type::Stream(_) => return Err(Unsupported("stream")),
        Type::ErrorContext => return Err(Unsupported("error-context")),
    })
}

/// The value of type `ty` that `v` encodes; errors say where (`at`, a
/// JSON-pointer-like path) and what was expected.
pub fn from_json(ty: &Type, v: &Value, at: &str) -> Result<Val, String> {
    let wrong = |what: &str| format!("{at}: expected {what}, got {}", kind(v));
    let int = |min: i128, max: i128| -> Result<i128, String> {
        let n = v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from)).ok_or_else(|| wrong("an integer"))?;
        if n < min || n > max {
            return Err(format!("{at}: {n} is out of range ({min} to {max})"));
        }
        Ok(n)
    };
    let float = || -> Result<f64, String> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| wrong("a number")),
            Value::String(s) if s == "NaN" => Ok(f64::NAN),
            Value::String(s) if s == "inf" => Ok(f64::INFINITY),
            Value::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(wrong("a number")),
        }
    };
    // Ranges were checked by `int`, so the casts below cannot truncate.
    Ok(match ty {
        Type::Bool => Val::Bool(v.as_bool().ok_or_else(|| wrong("true or false"))?),
        Type::S8 => Val::S8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        Type::U8 => Val::U8(int(0, u8::MAX.into())? as u8),
        Type::S16 => Val::S16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        Type::U16 => Val::U16(int(0, u16::MAX.into())? as u16),
        Type::S32 => Val::S32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        Type::U32 => Val::U32(int(0, u32::MAX.into())? as u32),
        Type::S64 => Val::S64(int(i64::MIN.into(), i64::MAX.into())? as i64),
        Type::U64 => Val::U64(int(0, u64::MAX.into())? as u64),
        Type::Float32 => Val::Float32(float()? as f32),
        Type::Float64 => Val::Float64(float()?),
        Type::Char => {
            let s = v.as_str().ok_or_else(|| wrong("a one-character string"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(wrong("a one-character string")),
            }
        }
        Type::String => Val::String(v.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Type::List(l) => Val::List(
            items(v, &wrong)?
                .iter()
                .enumerate()
                .map(|(i, e)| from_json(&l.ty(), e, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Type::FixedLengthList(l) => {
            let a = items(v, &wrong)?;
            if a.len() != l.len() as usize {
                return Err(format!("{at}: expected {} items, got {}", l.len(), a.len()));
            }
            Val::FixedLengthList(
                a.iter()
                    .enumerate()
                    .map(|(i, e)| from_json(&l.ty(), e, &format!("{at}/{i}")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map(m) => {
            let mut pairs = Vec::new();
            for (i, p) in items(v, &wrong)?.iter().enumerate() {
                match p.as_array().map(Vec::as_slice) {
                    Some([k, val]) => pairs.push((
                        from_json(&m.key(), k, &format!("{at}/{i}/0"))?,
                        from_json(&m.value(), val, &format!("{at}/{i}/1"))?,
                    )),
                    _ => return Err(format!("{at}/{i}: expected a [key, value] pair, got {}", kind(p))),
                }
            }
            Val::Map(pairs)
        }
        Type::Tuple(t) => {
            let a = items(v, &wrong)?;
            if a.len() != t.types().len() {
                return Err(format!("{at}: expected {} items, got {}", t.types().len(), a.len()));
            }
            Val::Tuple(
                t.types()
                    .zip(a)
                    .enumerate()
                    .map(|(i, (t, e))| from_json(&t, e, &format!("{at}/{i}")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Record(r) => {
            let o = v.as_object().ok_or_else(|| wrong("an object"))?;
            if let Some(extra) = o.keys().find(|k| !r.fields().any(|f| f.name == k.as_str())) {
                return Err(format!("{at}: unknown field `{extra}`"));
            }
            let mut fields = Vec::new();
            for f in r.fields() {
                let path = format!("{at}/{}", f.name);
                let val = match (o.get(f.name), &f.ty) {
                    (Some(x), t) => from_json(t, x, &path)?,
                    (None, Type::Option(_)) => Val::Option(None),
                    (None, _) => return Err(format!("{path}: missing")),
                };
                fields.push((f.name.to_string(), val));
            }
            Val::Record(fields)
        }
        Type::Variant(var) => {
            let (name, payload) = match v {
                Value::String(s) => (s.as_str(), None),
                Value::Object(o) if o.len() == 1 => {
                    o.iter().next().map(|(k, p)| (k.as_str(), Some(p))).unwrap_or_default()
                }
                _ => return Err(wrong("a case name or a {\"case\": payload} object")),
            };
            let Some(case) = var.cases().find(|c| c.name == name) else {
                let names: Vec<_> = var.cases().map(|c| c.name).collect();
                return Err(format!("{at}: `{name}` is not one of {names:?}"));
            };
            let val = match (&case.ty, payload) {
                (None, None | Some(Value::Null)) => None,
                (Some(t), Some(p)) => Some(Box::new(from_json(t, p, &format!("{at}/{name}"))?)),
                (Some(_), None) => return Err(format!("{at}: case `{name}` needs a payload: {{\"{name}\": ...}}")),
                (None, Some(_)) => return Err(format!("{at}: case `{name}` has no payload")),
            };
            Val::Variant(name.to_string(), val)
        }
        Type::Enum(e) => {
            let s = v.as_str().ok_or_else(|| wrong("a string"))?;
            if !e.names().any(|n| n == s) {
                return Err(format!("{at}: `{s}` is not one of {:?}", e.names().collect::<Vec<_>>()));
            }
            Val::Enum(s.to_string())
        }
        Type::Option(o) => match v {
            Value::Null => Val::Option(None),
            x => Val::Option(Some(Box::new(from_json(&o.ty(), x, at)?))),
        },
        Type::Result(r) => {
            let o = v.as_object().filter(|o| o.len() == 1).ok_or_else(|| wrong("{\"ok\": ...} or {\"err\": ...}"))?;
            let side = |t: Option<Type>, x: &Value, path: String| -> Result<Option<Box<Val>>, String> {
                match (t, x) {
                    (None, Value::Null) => Ok(None),
                    (None, _) => Err(format!("{path}: expected null")),
                    (Some(t), x) => Ok(Some(Box::new(from_json(&t, x, &path)?))),
                }
            };
            match (o.get("ok"), o.get("err")) {
                (Some(x), _) => Val::Result(Ok(side(r.ok(), x, format!("{at}/ok"))?)),
                (_, Some(x)) => Val::Result(Err(side(r.err(), x, format!("{at}/err"))?)),
                _ => return Err(wrong("{\"ok\": ...} or {\"err\": ...}")),
            }
        }
        Type::Flags(f) => {
            let mut set = Vec::new();
            for (i, x) in items(v, &wrong)?.iter().enumerate() {
                let s = x.as_str().ok_or_else(|| format!("{at}/{i}: expected a flag name, got {}", kind(x)))?;
                if !f.names().any(|n| n == s) {
                    return Err(format!("{at}/{i}: `{s}` is not one of {:?}", f.names().collect::<Vec<_>>()));
                }
                if !set.iter().any(|n: &String| n == s) {
                    set.push(s.to_string());
                }
            }
            Val::Flags(set)
        }
        Type::Own(_) | Type::Borrow(_) => return Err(format!("{at}: resources have no JSON form")),
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(format!("{at}: futures, streams and error contexts have no JSON form"));
        }
    })
}

fn items<'a>(v: &'a Value, wrong: &dyn Fn(&str) -> String) -> Result<&'a Vec<Value>, String> {
    v.as_array().ok_or_else(|| wrong("an array"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON encoding of `v`.
pub fn to_json(v: &Val) -> Value {
    let float = |f: f64| {
        if f.is_nan() {
            json!("NaN")
        } else if f.is_infinite() {
            json!(if f > 0.0 { "inf" } else { "-inf" })
        } else {
            json!(f)
        }
    };
    match v {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(f) => float(f64::from(*f)),
        Val::Float64(f) => float(*f),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(a) | Val::Tuple(a) | Val::FixedLengthList(a) => Value::Array(a.iter().map(to_json).collect()),
        Val::Map(pairs) => Value::Array(pairs.iter().map(|(k, v)| json!([to_json(k), to_json(v)])).collect()),
        Val::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Val::Variant(name, None) => json!(name),
        Val::Variant(name, Some(p)) => json!({ name: to_json(p) }),
        Val::Enum(name) => json!(name),
        Val::Option(None) => Value::Null,
        Val::Option(Some(x)) => to_json(x),
        Val::Result(Ok(x)) => json!({"ok": x.as_deref().map_or(Value::Null, to_json)}),
        Val::Result(Err(x)) => json!({"err": x.as_deref().map_or(Value::Null, to_json)}),
        Val::Flags(names) => json!(names),
        Val::Resource(_) => json!("<resource>"),
        Val::Future(_) => json!("<future>"),
        Val::Stream(_) => json!("<stream>"),
        Val::ErrorContext(_) => json!("<error-context>"),
    }
}
