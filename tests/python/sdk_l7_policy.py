"""Create a sandbox with an L7 network policy through the official SDK.

Usage: python sdk_l7_policy.py HOST:PORT GENERATION  (GENERATION is 0.0 or 0.1)

The policy is built with the SDK's own protobuf classes, so the bytes the
gateway stores are the ones the official client writes; the Rust test then
reads it back with `network.get-policy` and compares it with the same
policy written as YAML. Prints `OK <sandbox name>`.
"""

import sys

from openshell import SandboxClient
from openshell._proto import openshell_pb2, sandbox_pb2


def endpoint(generation: str) -> sandbox_pb2.NetworkEndpoint:
    if generation == "0.0":
        settings = {"tls": "terminate", "enforcement": "enforce"}
    else:
        settings = {
            "tls": sandbox_pb2.NETWORK_TLS_MODE_TERMINATE,
            "enforcement": sandbox_pb2.NETWORK_ENFORCEMENT_MODE_ENFORCE,
        }
    return sandbox_pb2.NetworkEndpoint(
        host="api.github.com",
        port=443,
        ports=[443],
        protocol="rest",
        rules=[
            sandbox_pb2.L7Rule(
                allow=sandbox_pb2.L7Allow(
                    method="GET",
                    path="/repos/*",
                    query={"per_page": sandbox_pb2.L7QueryMatcher(glob="1*")},
                )
            )
        ],
        deny_rules=[sandbox_pb2.L7DenyRule(method="DELETE", path="/repos/**")],
        allow_encoded_slash=True,
        credential_binding=sandbox_pb2.NetworkCredentialBinding(provider="github"),
        **settings,
    )


def main() -> None:
    address, generation = sys.argv[1], sys.argv[2]
    client = SandboxClient(address, timeout=30.0)
    policy = sandbox_pb2.SandboxPolicy(
        version=1,
        network_policies={
            "github": sandbox_pb2.NetworkPolicyRule(
                name="github",
                endpoints=[endpoint(generation)],
                binaries=[sandbox_pb2.NetworkBinary(path="/usr/bin/git")],
            )
        },
    )
    ref = client.create(workspace="default", spec=openshell_pb2.SandboxSpec(policy=policy), labels={"proof": "l7"})
    client.wait_ready(ref.name, workspace="default", timeout_seconds=60)
    client.close()
    print(f"OK {ref.name}")


if __name__ == "__main__":
    main()
