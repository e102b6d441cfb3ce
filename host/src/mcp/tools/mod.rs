//! The sandbox tools: one module per interface, each tool a typed argument
//! struct (its JSON schema, with field docs as descriptions) and a function
//! over the session's bound state that calls the host function a guest
//! would.

mod files;
mod lifecycle;
mod network;
mod process;
mod snapshots;

use base64::Engine as _;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::ToolError;
use super::session::Session;

/// What a tool does to the world, for the client's annotations.
#[derive(Clone, Copy)]
enum Effect {
    /// Only reads.
    Read,
    /// Changes things, but repeating it changes nothing more.
    Idempotent,
    /// Changes things.
    Write,
    /// Removes or overwrites things.
    Destructive,
}

fn tool<A: schemars::JsonSchema + 'static>(name: &'static str, description: &'static str, effect: Effect) -> Tool {
    let schema = rmcp::handler::server::common::schema_for_type::<A>();
    let annotations = match effect {
        Effect::Read => ToolAnnotations::new().read_only(true),
        Effect::Idempotent => ToolAnnotations::new().read_only(false).destructive(false).idempotent(true),
        Effect::Write => ToolAnnotations::new().read_only(false).destructive(false).idempotent(false),
        Effect::Destructive => ToolAnnotations::new().read_only(false).destructive(true),
    };
    // Sandboxes are closed worlds unless their network policy opens them.
    Tool::new(name, description, schema).with_annotations(annotations.open_world(false))
}

fn parse<A: DeserializeOwned>(name: &str, args: JsonObject) -> Result<A, ToolError> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| ToolError::Arguments(format!("the arguments of {name} do not fit its input schema: {e}")))
}

/// Every sandbox tool: its name, arguments, effect and description, and
/// the function that carries it out.
macro_rules! catalogue {
    ($( $name:literal => $module:ident::$func:ident($args:ty), $effect:ident, $desc:expr; )*) => {
        /// The sandbox tools, in a stable order.
        pub(crate) fn list() -> Vec<Tool> {
            vec![$( tool::<$args>($name, $desc, Effect::$effect) ),*]
        }

        /// Whether `name` is a sandbox tool.
        pub(crate) fn has(name: &str) -> bool {
            matches!(name, $( $name )|*)
        }

        /// Call the sandbox tool `name` in `session`: arguments are checked
        /// before the session binds its sandbox. `None` if there is no tool
        /// of that name.
        pub(crate) async fn call(session: &Session, name: &str, args: JsonObject) -> Option<Result<Value, ToolError>> {
            Some(match name {
                $( $name => match parse::<$args>($name, args) {
                    Ok(a) => match session.lock().await {
                        Ok(mut b) => $module::$func(&mut b, a).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }, )*
                _ => return None,
            })
        }
    };
}

catalogue! {
    "run_command" => process::run_command(process::RunCommand), Write, process::RUN_COMMAND;
    "exec_command" => process::exec_command(process::ExecCommand), Write, process::EXEC_COMMAND;
    "write_stdin" => process::write_stdin(process::WriteStdin), Write, process::WRITE_STDIN;
    "kill_command" => process::kill_command(process::KillCommand), Destructive, process::KILL_COMMAND;
    "read_file" => files::read_file(files::ReadFile), Read, files::READ_FILE;
    "write_file" => files::write_file(files::WriteFile), Destructive, files::WRITE_FILE;
    "list_dir" => files::list_dir(files::ListDir), Read, files::LIST_DIR;
    "stat" => files::stat(files::Stat), Read, files::STAT;
    "make_dir" => files::make_dir(files::MakeDir), Idempotent, files::MAKE_DIR;
    "remove" => files::remove(files::Remove), Destructive, files::REMOVE;
    "move" => files::move_path(files::Move), Destructive, files::MOVE;
    "extract_archive" => files::extract_archive(files::ExtractArchive), Destructive, files::EXTRACT_ARCHIVE;
    "snapshot_persist" => snapshots::persist(snapshots::Persist), Write, snapshots::PERSIST;
    "snapshot_hydrate" => snapshots::hydrate(snapshots::Hydrate), Destructive, snapshots::HYDRATE;
    "snapshot_list" => snapshots::list(snapshots::ListSnapshots), Read, snapshots::LIST;
    "network_get_policy" => network::get_policy(network::GetPolicy), Read, network::GET_POLICY;
    "network_update_policy" => network::update_policy(network::UpdatePolicy), Destructive, network::UPDATE_POLICY;
    "expose_port" => network::expose_port(network::ExposePort), Idempotent, network::EXPOSE_PORT;
    "sandbox_info" => lifecycle::info(lifecycle::Info), Read, lifecycle::INFO;
    "sandbox_create" => lifecycle::create(lifecycle::Create), Write, lifecycle::CREATE;
    "sandbox_attach" => lifecycle::attach(lifecycle::Attach), Read, lifecycle::ATTACH;
    "sandbox_list" => lifecycle::list(lifecycle::ListSandboxes), Read, lifecycle::LIST;
    "sandbox_delete" => lifecycle::delete(lifecycle::Delete), Destructive, lifecycle::DELETE;
}

/// Bytes as text when they are UTF-8; otherwise lossy text plus the exact
/// bytes in base64 under `<key>_base64`.
fn text_field(out: &mut serde_json::Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            out.insert(key.into(), json!(s));
        }
        Err(_) => {
            out.insert(key.into(), json!(String::from_utf8_lossy(bytes)));
            out.insert(format!("{key}_base64"), json!(base64::engine::general_purpose::STANDARD.encode(bytes)));
        }
    }
}

/// An argument that is either a file mode number (`420`) or its octal
/// spelling (`"0644"`, `"755"`), as models write both.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum Mode {
    Number(u32),
    Octal(String),
}

impl Mode {
    fn bits(&self, op: &str) -> Result<u32, ToolError> {
        match self {
            Mode::Number(n) => Ok(*n),
            Mode::Octal(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
                .map_err(|_| ToolError::Arguments(format!("{op}: mode `{s}` is not an octal number like \"0644\""))),
        }
    }
}
