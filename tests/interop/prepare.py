#!/usr/bin/env python3
"""Prepares the Python side of the interop tests (tests/interop_python.rs).

    python3 tests/interop/prepare.py [DIR]

DIR (default: target/interop at the root of the repository) receives:

- venv/   a virtual environment with the packages pinned in requirements.txt;
- stubs/  Python messages and stubs generated from examples/proto/*.proto by grpc_tools.protoc (the
          protoc that grpcio-tools ships: no system protoc is needed).

Each part is remade only when its inputs changed (requirements.txt for the environment, the
.proto files and the environment for the stubs), so a run with nothing to do takes a moment.
Creating the environment needs python3 with its venv module and access to PyPI. .ci/run runs
this before the tests; the interop test runs it too, so `cargo test` works on a fresh clone.
"""

import hashlib
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
PROTO_DIR = ROOT / "examples" / "proto"


def digest(paths):
    """A hash of the names and contents of `paths`."""
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def up_to_date(stamp, expected):
    return stamp.exists() and stamp.read_text() == expected


def prepare_venv(directory):
    """The virtual environment with the pinned packages; returns its python."""
    env_dir = directory / "venv"
    stamp = directory / "venv.stamp"
    python = env_dir / "bin" / "python"
    wanted = digest([REQUIREMENTS])
    if up_to_date(stamp, wanted) and python.exists():
        return python
    print(f"creating the interop virtual environment in {env_dir}", flush=True)
    stamp.unlink(missing_ok=True)
    shutil.rmtree(env_dir, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return python


def prepare_stubs(directory, python):
    """Messages and stubs for every examples/proto/*.proto, regenerated when a file changed."""
    stubs = directory / "stubs"
    stamp = directory / "stubs.stamp"
    protos = sorted(PROTO_DIR.glob("*.proto"))
    wanted = digest([*protos, REQUIREMENTS])
    if up_to_date(stamp, wanted) and stubs.is_dir():
        return
    print(f"generating Python stubs for {len(protos)} proto files in {stubs}", flush=True)
    fresh = directory / "stubs.new"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    # Run as a module, grpc_tools.protoc adds its own copy of the google/protobuf imports.
    command = [str(python), "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}"]
    command += [f"--python_out={fresh}", f"--grpc_python_out={fresh}"]
    subprocess.run([*command, *(proto.name for proto in protos)], check=True)
    shutil.rmtree(stubs, ignore_errors=True)
    fresh.rename(stubs)
    stamp.write_text(wanted)


def main():
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "interop"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        python = prepare_venv(directory)
        prepare_stubs(directory, python)
    except subprocess.CalledProcessError as error:
        sys.exit(f"prepare.py: `{' '.join(error.cmd)}` failed with exit status {error.returncode}")


if __name__ == "__main__":
    main()
