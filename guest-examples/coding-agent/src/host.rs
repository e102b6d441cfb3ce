//! The real environment: the sandbox the host bound to this run, and a model
//! called through the host.

use std::time::Duration;

use openshell_sandbox_guest::{
    ChatRequest, Command, Completion, DirEntry, Level, Model, Result, RunOutput, Sandbox, log,
};

use crate::agent_loop::Env;
use crate::tools::Workspace;

/// The sandbox and the model.
#[derive(Debug)]
pub(crate) struct Host {
    pub sandbox: Sandbox,
    pub model: Model,
    /// Ask for streamed answers. The loop only uses the assembled answer;
    /// streaming exercises the host's streaming path and keeps long answers
    /// from hitting a proxy's idle timeout.
    pub stream: bool,
}

impl Workspace for Host {
    fn run(&mut self, command: &str, timeout: Duration) -> Result<RunOutput> {
        Command::shell(command).timeout(timeout).run(&self.sandbox)
    }
    fn read(&mut self, path: &str) -> Result<Vec<u8>> {
        self.sandbox.read(path)
    }
    fn write(&mut self, path: &str, data: &[u8]) -> Result<()> {
        self.sandbox.write(path, data).map(|_| ())
    }
    fn list(&mut self, path: &str) -> Result<Vec<DirEntry>> {
        self.sandbox.list_dir(path)
    }
}

impl Env for Host {
    fn complete(&mut self, request: &ChatRequest) -> Result<Completion> {
        if self.stream { self.model.stream(request)?.into_completion() } else { self.model.complete(request) }
    }
    fn log(&mut self, line: &str) {
        log(Level::Info, line, &[]);
    }
}
