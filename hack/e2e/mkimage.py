#!/usr/bin/env python3
"""Builds a busybox image tarball from /bin/busybox (busybox-static), with no registry:
   hack/e2e/mkimage.py OUT.tar [NAME:TAG]
or, with --pause BINARY, a sandbox ("pause") image holding that one static program as
/pause (the CRI lane's, built from hack/e2e/cri/pause.c):
   hack/e2e/mkimage.py --pause BINARY OUT.tar NAME:TAG
The tarball is both an OCI image layout (oci-layout, index.json, blobs/) and a docker-archive
(manifest.json), as `docker save` writes since docker 25, so `ctr images import`,
`podman load` and `docker load` all take it. Deterministic: same busybox, same digest."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 0
    tar.addfile(info)


def add_symlink(tar, name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mtime = 0
    tar.addfile(info)


def pause_layer_bytes(binary):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        with open(binary, "rb") as f:
            add_file(tar, "pause", f.read(), 0o755)
    return buf.getvalue()


def layer_bytes():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev", "home", "var", "run"]:
            add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        with open("/bin/busybox", "rb") as f:
            add_file(tar, "bin/busybox", f.read(), 0o755)
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for applet in sorted(set(applets) - {"busybox"}):
            add_symlink(tar, f"bin/{applet}", "busybox")
        add_file(tar, "etc/passwd",
                 b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
                 b"user:x:1000:1000:user:/home:/bin/sh\n")
        add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n")
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    args = sys.argv[1:]
    if args[:1] == ["--pause"]:
        layer = pause_layer_bytes(args[1])
        image_config = {"Env": [PATH_ENV], "Entrypoint": ["/pause"], "WorkingDir": "/"}
        args = args[2:]
    else:
        layer = layer_bytes()
        image_config = {"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/"}
    out = args[0]
    name = args[1] if len(args) > 1 else "localhost/corral-busybox:latest"
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hack/e2e/mkimage.py"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(manifest), "size": len(manifest),
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
        }],
    }, sort_keys=True).encode()
    blob = lambda d: "blobs/sha256/" + digest(d).split(":")[1]
    docker_manifest = json.dumps([{
        "Config": blob(config), "RepoTags": [name], "Layers": [blob(layer)],
    }]).encode()
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_file(tar, "index.json", index)
        add_file(tar, "manifest.json", docker_manifest)
        add_dir(tar, "blobs")
        add_dir(tar, "blobs/sha256")
        for data in (layer, config, manifest):
            add_file(tar, blob(data), data)
    os.replace(tmp, out)
    print(digest(manifest))


if __name__ == "__main__":
    main()
