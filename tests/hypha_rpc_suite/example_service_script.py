"""Becomes `tests/example_service_script.py` of hypha-rpc's suite (the sdist lacks it):
the external service `test_launch_external_services` launches. It registers a public
service whose `test(x)` returns x + 99 and runs until it is killed."""
import argparse
import asyncio

from hypha_rpc import connect_to_server


async def serve(server_url, service_id, workspace, token):
    server = await connect_to_server({"client_id": f"{service_id}-client",
                                      "server_url": server_url, "workspace": workspace,
                                      "token": token})
    await server.register_service({"id": service_id, "config": {"visibility": "public"},
                                   "test": lambda x: x + 99})
    print(f"service {service_id} ready in {server.config.workspace}", flush=True)
    await asyncio.Event().wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--service-id", default="test-service")
    parser.add_argument("--workspace")
    parser.add_argument("--token")
    args = parser.parse_args()
    asyncio.run(serve(args.server_url, args.service_id, args.workspace, args.token))


if __name__ == "__main__":
    main()
