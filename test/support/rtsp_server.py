#!/usr/bin/python3
"""A real RTSP server for tests and the demo camera: GStreamer's gst-rtsp-server serving an H.264
or H.265 MP4 clip, as a street camera would. Run with Debian's own python3 (it has gi).

usage: rtsp_server.py --port 8554 --mount /cam --file clip.mp4 [--codec h264|h265] [--mounts N]
Prints "READY rtsp://127.0.0.1:PORT/MOUNT" once listening. Each client gets the clip from its
start, paced in real time; the stream ends when the clip does (loop longer clips upstream).
With --mounts N the same clip is also served at MOUNT0 .. MOUNT<N-1> (many cameras, one server).
Whenever they change it prints "STATS clients=<connected> sessions=<RTSP sessions> total=<clients
ever connected>", so tests can count the connections a camera costs.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", default="/cam")
    ap.add_argument("--file", required=True)
    ap.add_argument("--codec", choices=["h264", "h265"], default="h264")
    ap.add_argument("--mounts", type=int, default=0)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! {args.codec}parse ! rtp{args.codec}pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.mount, factory)
    for i in range(args.mounts):
        server.get_mount_points().add_factory(f"{args.mount}{i}", factory)

    stats = {"clients": 0, "total": 0, "last": None}

    def on_closed(_client):
        stats["clients"] -= 1

    def on_client(_server, client):
        stats["clients"] += 1
        stats["total"] += 1
        client.connect("closed", on_closed)

    server.connect("client-connected", on_client)
    pool = server.get_session_pool()

    def report():
        now = (stats["clients"], pool.get_n_sessions(), stats["total"])
        if now != stats["last"]:
            stats["last"] = now
            print(f"STATS clients={now[0]} sessions={now[1]} total={now[2]}", flush=True)
        return True

    GLib.timeout_add(250, report)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{args.port}", flush=True)
        return 1
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    signal.signal(signal.SIGINT, lambda *_: loop.quit())
    print(f"READY rtsp://127.0.0.1:{args.port}{args.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
