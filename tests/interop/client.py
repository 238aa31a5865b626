"""Real grpcio clients for the example services, one case per run.

    python client.py CASE ADDRESS

Runs CASE against the server at ADDRESS (host:port) and prints what the client saw as one JSON
object on stdout; tests/interop_python.rs parses it and asserts on it exactly. A failed call is
reported as {"code": "NOT_FOUND", "details": "..."} (with the metadata the case asks for); any
other exception is a bug in the case: it goes to stderr with its traceback and the exit code is 1.

Every case gets its channel from open_channel: a TLS case adds its credentials there.
The generated stubs must be importable (prepare.py writes them; the test puts them on PYTHONPATH).
"""

import json
import os
import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

import hello_pb2
import hello_pb2_grpc
import orders_pb2
import orders_pb2_grpc
import rides_pb2
import rides_pb2_grpc
import users_pb2
import users_pb2_grpc


def open_channel(address):
    """A plaintext channel, or TLS when INTEROP_TLS is set: trusting the CA in the PEM file
    INTEROP_CA (the system's roots when unset), and presenting the certificate and key in
    INTEROP_CERT and INTEROP_KEY when they are set (mTLS)."""
    if not os.environ.get("INTEROP_TLS"):
        return grpc.insecure_channel(address)

    def read(variable):
        path = os.environ.get(variable)
        return open(path, "rb").read() if path else None

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read("INTEROP_CA"),
        private_key=read("INTEROP_KEY"),
        certificate_chain=read("INTEROP_CERT"),
    )
    return grpc.secure_channel(address, credentials)


def metadata_dict(metadata):
    """Metadata as a JSON object; binary (-bin) values in hex."""
    return {key: value.hex() if isinstance(value, bytes) else value for key, value in metadata or ()}


def failure(error, **extra):
    return {"code": error.code().name, "details": error.details(), **extra}


def unary(channel):
    user = users_pb2_grpc.UserServiceStub(channel).GetUser(users_pb2.GetUserRequest(id=1))
    return {"id": user.id, "name": user.name, "email": user.email}


def tls_unary(channel):
    """The unary case, reporting a failed call instead of raising (for refused TLS)."""
    try:
        return unary(channel)
    except grpc.RpcError as error:
        return {"code": error.code().name}


def not_found(channel):
    try:
        users_pb2_grpc.UserServiceStub(channel).GetUser(users_pb2.GetUserRequest(id=2))
    except grpc.RpcError as error:
        return failure(error)
    return {"code": "OK"}


def client_stream(channel):
    def events():
        for step in range(3):
            location = rides_pb2.Location(lat=52.5 + step / 100, lng=13.4)
            yield rides_pb2.TrackRequest(car_id="car-7", location=location)

    reply = rides_pb2_grpc.RidesStub(channel).Track(events())
    return {"count": reply.count}


def server_stream(channel):
    orders = orders_pb2_grpc.OrdersStub(channel)
    registered = orders.RegisterOrder(orders_pb2.RegisterOrderRequest(customer_id="c-1", items=["tea"]))
    events = orders.WatchOrder(orders_pb2.WatchOrderRequest(order_id=registered.order_id))
    statuses = [orders_pb2.OrderStatus.Name(event.status) for event in events]
    return {"order_id": registered.order_id, "statuses": statuses, "code": events.code().name}


def metadata(channel):
    hello = hello_pb2_grpc.HelloServiceStub(channel)
    request = hello_pb2.HelloRequest(greeting="Python")
    reply, call = hello.Hello.with_call(request, metadata=[("x-request-id", "req-42")])
    headers = {key: value for key, value in metadata_dict(call.initial_metadata()).items()
               if key.startswith("x-")}
    return {"reply": reply.reply, "headers": headers}


def trailers(channel):
    rides = rides_pb2_grpc.RidesStub(channel)
    try:
        rides.Start(rides_pb2.StartRequest(car_id="car-7"))
    except grpc.RpcError as error:
        return failure(error, trailers=metadata_dict(error.trailing_metadata()))
    return {"code": "OK"}


def deadline(channel):
    rides = rides_pb2_grpc.RidesStub(channel)
    try:
        rides.Quote(rides_pb2.QuoteRequest(type=rides_pb2.POOL), timeout=0.2)
    except grpc.RpcError as error:
        return failure(error)
    return {"code": "OK"}


def reflection(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(database.get_services())
    pool = DescriptorPool(database)
    methods = {}
    for name in ("users.UserService", "rides.Rides"):
        service = pool.FindServiceByName(name)
        methods[name] = [f"{m.name}({m.input_type.full_name})" for m in service.methods]
    return {"services": services, "methods": methods}


CASES = {
    case.__name__: case
    for case in (unary, tls_unary, not_found, client_stream, server_stream, metadata, trailers, deadline,
                 reflection)
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit(f"usage: client.py CASE ADDRESS, CASE one of {', '.join(CASES)}")
    case, address = sys.argv[1:]
    with open_channel(address) as channel:
        print(json.dumps(CASES[case](channel), sort_keys=True))


if __name__ == "__main__":
    main()
