//! Components that export functions for a caller instead of an entry
//! point: their functions, with types, and calling one with JSON arguments
//! (see [`crate::wit_json`] for the encoding).

use serde_json::{Map, Value};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, Type, Val};

use crate::wit_json;

/// A function a component exports.
#[derive(Debug, Clone)]
pub struct ExportedFunction {
    /// The interface exporting it (`test:tools/shapes@0.1.0`), or `None`
    /// for a function the world exports directly.
    pub interface: Option<String>,
    /// The function's WIT name (`count-words`).
    pub name: String,
    /// Parameters: names and types.
    pub params: Vec<(String, Type)>,
    /// The result type, if any.
    pub result: Option<Type>,
    pub(crate) index: ComponentExportIndex,
}

/// A call of an exported function with JSON arguments, by parameter name.
#[derive(Debug, Clone)]
pub struct FunctionCall {
    /// The interface, as [`ExportedFunction::interface`].
    pub interface: Option<String>,
    /// The function's name.
    pub function: String,
    /// The arguments: parameter name to JSON value. A missing `option`
    /// parameter is `none`.
    pub args: Map<String, Value>,
}

/// The exported functions of `component`, in export order, with those
/// that cannot be called with JSON (resources, streams, futures) left out
/// and the reason logged.
pub(crate) fn exported(engine: &Engine, component: &Component) -> Vec<ExportedFunction> {
    let ty = component.component_type();
    let mut found = Vec::new();
    for (name, ext) in ty.exports(engine) {
        match &ext.ty {
            ComponentItem::ComponentFunc(f) => {
                if let Some(index) = component.get_export_index(None, name) {
                    found.push((None, name.to_string(), f.clone(), index));
                }
            }
            ComponentItem::ComponentInstance(inst) => {
                let Some(inst_index) = component.get_export_index(None, name) else { continue };
                for (fname, fext) in inst.exports(engine) {
                    if let ComponentItem::ComponentFunc(f) = &fext.ty
                        && let Some(index) = component.get_export_index(Some(&inst_index), fname)
                    {
                        found.push((Some(name.to_string()), fname.to_string(), f.clone(), index));
                    }
                }
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .filter_map(|(interface, name, f, index)| {
            let func = ExportedFunction {
                interface,
                params: f.params().map(|(n, t)| (n.to_string(), t)).collect(),
                result: f.results().next(),
                name,
                index,
            };
            match func.params_schema() {
                Ok(_) => Some(func),
                Err(e) => {
                    tracing::warn!(function = %func.name, "exported function not callable with JSON: {e}");
                    None
                }
            }
        })
        .collect()
}

impl ExportedFunction {
    /// The JSON Schema of the arguments object: one property per parameter,
    /// required unless it is an `option`.
    pub fn params_schema(&self) -> Result<Value, wit_json::Unsupported> {
        let mut props = Map::new();
        let mut required = Vec::new();
        for (name, ty) in &self.params {
            props.insert(name.clone(), wit_json::schema(ty)?);
            if !matches!(ty, Type::Option(_)) {
                required.push(Value::String(name.clone()));
            }
        }
        if let Some(r) = &self.result {
            wit_json::schema(r)?;
        }
        Ok(
            serde_json::json!({"type": "object", "properties": props, "required": required, "additionalProperties": false}),
        )
    }

    /// The JSON Schema of what a successful call returns: the result's
    /// encoding, or for a `result<T, E>` its `T` (an `err` is a failed
    /// call).
    pub fn result_schema(&self) -> Value {
        match &self.result {
            None => serde_json::json!({"type": "null"}),
            Some(Type::Result(r)) => r
                .ok()
                .map_or(serde_json::json!({"type": "null"}), |t| wit_json::schema(&t).unwrap_or(Value::Bool(true))),
            Some(t) => wit_json::schema(t).unwrap_or(Value::Bool(true)),
        }
    }

    /// `name(param: type, ...) -> result`, in WIT spelling.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|(n, t)| format!("{n}: {}", wit_type(t))).collect();
        let mut s = format!("{}({})", self.name, params.join(", "));
        if let Some(r) = &self.result {
            s.push_str(&format!(" -> {}", wit_type(r)));
        }
        s
    }

    /// The arguments as values, in parameter order.
    pub fn args(&self, args: &Map<String, Value>) -> Result<Vec<Val>, String> {
        if let Some(extra) = args.keys().find(|k| !self.params.iter().any(|(n, _)| n == *k)) {
            let names: Vec<&str> = self.params.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!("{} has no parameter `{extra}` (its parameters: {names:?})", self.name));
        }
        self.params
            .iter()
            .map(|(name, ty)| match (args.get(name), ty) {
                (Some(v), t) => wit_json::from_json(t, v, name),
                (None, Type::Option(_)) => Ok(Val::Option(None)),
                (None, _) => Err(format!("{name}: missing")),
            })
            .collect()
    }

    /// What the call returned: `Ok(json)`, or `Err(json)` for the `err` of
    /// a `result`.
    pub(crate) fn outcome(&self, results: &[Val]) -> Result<String, String> {
        match results.first() {
            None => Ok("null".into()),
            Some(Val::Result(Ok(v))) => Ok(v.as_deref().map_or(Value::Null, wit_json::to_json).to_string()),
            Some(Val::Result(Err(v))) => Err(v.as_deref().map_or(Value::Null, wit_json::to_json).to_string()),
            Some(v) => Ok(wit_json::to_json(v).to_string()),
        }
    }
}

/// A type in WIT spelling, structurally (named types are spelled out).
fn wit_type(t: &Type) -> String {
    let list = |ts: Vec<String>| ts.join(", ");
    match t {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", wit_type(&l.ty())),
        Type::FixedLengthList(l) => format!("list<{}, {}>", wit_type(&l.ty()), l.len()),
        Type::Map(m) => format!("map<{}, {}>", wit_type(&m.key()), wit_type(&m.value())),
        Type::Tuple(tt) => format!("tuple<{}>", list(tt.types().map(|t| wit_type(&t)).collect())),
        Type::Record(r) => {
            format!("record {{ {} }}", list(r.fields().map(|f| format!("{}: {}", f.name, wit_type(&f.ty))).collect()))
        }
        Type::Variant(v) => format!(
            "variant {{ {} }}",
            list(
                v.cases()
                    .map(|c| c.ty.as_ref().map_or(c.name.to_string(), |t| format!("{}({})", c.name, wit_type(t))))
                    .collect()
            )
        ),
        Type::Enum(e) => format!("enum {{ {} }}", list(e.names().map(str::to_string).collect())),
        Type::Option(o) => format!("option<{}>", wit_type(&o.ty())),
        Type::Result(r) => {
            let side = |t: Option<Type>| t.map_or("_".to_string(), |t| wit_type(&t));
            format!("result<{}, {}>", side(r.ok()), side(r.err()))
        }
        Type::Flags(f) => format!("flags {{ {} }}", list(f.names().map(str::to_string).collect())),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Future(_) => "future".into(),
        Type::Stream(_) => "stream".into(),
        Type::ErrorContext => "error-context".into(),
    }
}
