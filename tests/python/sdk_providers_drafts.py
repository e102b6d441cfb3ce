"""Call the provider and draft-policy RPCs with the official SDK's own stubs.

Usage: python sdk_providers_drafts.py HOST:PORT GENERATION  (0.0 or 0.1)

The gateway must know a provider `github` (credential GITHUB_TOKEN) and
propose a draft rule for pypi.org:443 for every new sandbox. Creates a
sandbox, attaches and lists the provider (and, on 0.1, reads its
readiness), reads the draft policy, approves the chunk and checks it is
approved, then deletes the sandbox. Any mismatch raises; success prints
OK.
"""

import sys

import grpc
from checking import check
from openshell import SandboxClient
from openshell._proto import datamodel_pb2, openshell_pb2, openshell_pb2_grpc


def main() -> None:
    address, generation = sys.argv[1], sys.argv[2]
    client = SandboxClient(address, timeout=30.0)
    ref = client.create(workspace="default", labels={"proof": "providers"})
    client.wait_ready(ref.name, workspace="default", timeout_seconds=60)
    stub = openshell_pb2_grpc.OpenShellStub(grpc.insecure_channel(address))
    if generation == "0.0":
        scope = {"workspace": "default"}
        sandbox = {"sandbox_name": ref.name}
        named = {"name": ref.name}
        provider = {"provider_name": "github"}
    else:
        scope = {"workspace_scope": datamodel_pb2.WorkspaceSelector(workspace="default")}
        sandbox = {"sandbox": ref.name}
        named = {"sandbox": ref.name}
        provider = {"provider": "github"}

    attached = stub.AttachSandboxProvider(openshell_pb2.AttachSandboxProviderRequest(**sandbox, **provider, **scope))
    check(attached.attached, f"attach: {attached}")
    again = stub.AttachSandboxProvider(openshell_pb2.AttachSandboxProviderRequest(**sandbox, **provider, **scope))
    check(not again.attached, "a second attach says it was attached already")
    listed = stub.ListSandboxProviders(openshell_pb2.ListSandboxProvidersRequest(**sandbox, **scope))
    names = [(p.metadata.name, p.type, sorted(p.credentials)) for p in listed.providers]
    check(names == [("github", "github", ["GITHUB_TOKEN"])], f"providers: {names}")
    if generation == "0.1":
        status = stub.GetSandboxProviderStatus(
            openshell_pb2.GetSandboxProviderStatusRequest(sandbox=ref.name, provider="github", **scope)
        )
        check(status.status.state == openshell_pb2.PROVIDER_READINESS_STATE_READY, f"readiness: {status}")

    drafts = stub.GetDraftPolicy(openshell_pb2.GetDraftPolicyRequest(**named, status_filter="pending", **scope))
    check(len(drafts.chunks) == 1, f"draft chunks: {drafts}")
    chunk = drafts.chunks[0]
    endpoint = chunk.proposed_rule.endpoints[0]
    check((endpoint.host, list(endpoint.ports)) == ("pypi.org", [443]), f"proposed rule: {chunk}")
    approved = stub.ApproveDraftChunk(openshell_pb2.ApproveDraftChunkRequest(**named, chunk_id=chunk.id, **scope))
    check(approved.policy_version >= 1 and approved.policy_hash, f"approve: {approved}")
    after = stub.GetDraftPolicy(openshell_pb2.GetDraftPolicyRequest(**named, **scope))
    check([c.status for c in after.chunks] == ["approved"], f"after approval: {after}")
    try:
        stub.RejectDraftChunk(openshell_pb2.RejectDraftChunkRequest(**named, chunk_id="no-such-chunk", reason="x", **scope))
        raise AssertionError("an unknown chunk must be refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, f"unknown chunk: {e.code()}")

    detached = stub.DetachSandboxProvider(openshell_pb2.DetachSandboxProviderRequest(**sandbox, **provider, **scope))
    check(detached.detached, f"detach: {detached}")
    client.delete(ref.name, workspace="default")
    client.close()
    print("OK providers and draft policy")


if __name__ == "__main__":
    main()
