//! `types`: the `sandbox` resource and the error conversion hook.

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::types;
use super::{CallError, CallErrorKind, CallResult, SandboxCtxView, convert};
use std::sync::Arc;

use crate::backend::{Sandbox, SandboxInfo};

/// A guest's handle to a sandbox: the backend's opened [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxHandle {
    pub(crate) sandbox: Arc<dyn Sandbox>,
    pub(crate) owned: bool,
}

impl SandboxCtxView<'_> {
    /// The sandbox behind a handle the guest passed in.
    pub(crate) fn sandbox_of(&self, handle: &Resource<SandboxHandle>) -> CallResult<Arc<dyn Sandbox>> {
        Ok(self.table.get(handle)?.sandbox.clone())
    }

    /// A new handle to `info`, opened on the backend.
    pub(crate) fn new_handle(&mut self, info: &SandboxInfo, owned: bool) -> wasmtime::Result<Resource<SandboxHandle>> {
        let sandbox = self.ctx.backend.open(info);
        Ok(self.table.push(SandboxHandle { sandbox, owned })?)
    }
}

impl types::Host for SandboxCtxView<'_> {
    fn convert_error(&mut self, err: CallError) -> wasmtime::Result<types::Error> {
        match err.0 {
            CallErrorKind::Guest(e) => Ok(convert::error(e)),
            CallErrorKind::Trap(t) => Err(t),
        }
    }
}

impl types::HostSandbox for SandboxCtxView<'_> {
    async fn name(&mut self, sandbox: Resource<SandboxHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&sandbox)?.sandbox.info().name.clone())
    }

    async fn info(&mut self, sandbox: Resource<SandboxHandle>) -> CallResult<types::SandboxInfo> {
        let handle = self.table.get(&sandbox)?.clone();
        let fresh = self
            .ctx
            .backend
            .get(&handle.sandbox.info().name)
            .await
            .map_err(|e| e.with_operation("types.sandbox.info"))?;
        Ok(convert::sandbox_info(&fresh, handle.owned))
    }

    async fn capabilities(&mut self, sandbox: Resource<SandboxHandle>) -> wasmtime::Result<types::Capabilities> {
        let _ = self.table.get(&sandbox)?;
        Ok(convert::capabilities(self.ctx.backend.features(), &self.ctx.policy))
    }

    async fn drop(&mut self, sandbox: Resource<SandboxHandle>) -> wasmtime::Result<()> {
        // A handle with live processes or open files cannot leave the table
        // (they are its children). Rather than trap a guest whose language
        // drops objects in no particular order, the entry stays until the
        // store goes away; the guest's handle is gone either way.
        match self.table.delete(sandbox) {
            Ok(_) | Err(wasmtime::component::ResourceTableError::HasChildren) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
