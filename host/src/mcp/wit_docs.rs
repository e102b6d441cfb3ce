//! Doc comments for component tools, from the component's WIT beside it
//! (`tool.wasm` and `tool.wit`, a file or a package directory). The
//! toolchains that build components do not keep doc comments in the binary,
//! so without that file a tool is described by its signature alone.

use std::collections::HashMap;
use std::path::Path;

use wit_parser::{Function, Resolve, Type, WorldItem};

/// The docs of one function: its own, and those of its parameters' types.
#[derive(Debug, Default, Clone)]
pub(crate) struct FunctionDocs {
    /// The function's doc comment.
    pub(crate) docs: Option<String>,
    /// Parameter name to the doc comment of its (named) type.
    pub(crate) params: HashMap<String, String>,
}

/// Function docs by exporting interface (`None`: the world) and name.
#[derive(Debug, Default)]
pub(crate) struct WitDocs(HashMap<(Option<String>, String), FunctionDocs>);

impl WitDocs {
    /// The docs in the WIT beside `component`; empty when there is none.
    pub(crate) fn beside(component: &Path) -> Result<WitDocs, String> {
        let path = component.with_extension("wit");
        if !path.exists() {
            return Ok(WitDocs::default());
        }
        let mut resolve = Resolve::default();
        resolve.push_path(&path).map_err(|e| format!("{}: {e:#}", path.display()))?;
        let mut found = HashMap::new();
        for (id, iface) in resolve.interfaces.iter() {
            let Some(name) = resolve.id_of(id) else { continue };
            for (fname, f) in &iface.functions {
                found.insert((Some(name.clone()), fname.clone()), function_docs(&resolve, f));
            }
        }
        for (_, world) in resolve.worlds.iter() {
            for item in world.exports.values() {
                if let WorldItem::Function(f) = item {
                    found.insert((None, f.name.clone()), function_docs(&resolve, f));
                }
            }
        }
        Ok(WitDocs(found))
    }

    /// The docs of `name` exported by `interface`.
    pub(crate) fn get(&self, interface: Option<&str>, name: &str) -> Option<&FunctionDocs> {
        self.0.get(&(interface.map(str::to_string), name.to_string()))
    }
}

fn function_docs(resolve: &Resolve, f: &Function) -> FunctionDocs {
    let params = f
        .params
        .iter()
        .filter_map(|p| match p.ty {
            Type::Id(id) => resolve.types[id].docs.contents.clone().map(|d| (p.name.clone(), d)),
            _ => None,
        })
        .collect();
    FunctionDocs { docs: f.docs.contents.clone(), params }
}
