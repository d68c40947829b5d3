#!/usr/bin/env python3
"""How long a frozen etcd member takes to catch up after SIGCONT (etcd-observed.md, row 12).

Starts a three-member etcd cluster on loopback (the `etcd` binary on PATH, e.g. Debian's
etcd-server 3.4.23), writes a 100-byte value through the leader every 20 ms, freezes one
follower with SIGSTOP for FREEZE seconds, resumes it with SIGCONT and polls its
Maintenance.Status (the gRPC gateway, every 5 ms) until its raft index reaches the leader's
index at the moment of SIGCONT. Prints the time that took, once per trial. Not run by CI; the
scenario `etcd-frozen-catch-up` reproduces it in simulation.

usage: etcd-freeze-catch-up.py [TRIALS] [FREEZE_S]
"""
import base64, json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request

TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
FREEZE_S = float(sys.argv[2]) if len(sys.argv) > 2 else 35.0
CLIENT = {i: 23790 + i for i in (1, 2, 3)}
PEER = {i: 23800 + i for i in (1, 2, 3)}


def post(port, path, body, timeout=1.0):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def status(i, timeout=1.0):
    return post(CLIENT[i], "/v3/maintenance/status", {}, timeout)


def start_cluster(workdir):
    cluster = ",".join(f"m{i}=http://127.0.0.1:{PEER[i]}" for i in (1, 2, 3))
    procs = {}
    for i in (1, 2, 3):
        log = open(os.path.join(workdir, f"m{i}.log"), "w")
        procs[i] = subprocess.Popen([
            "etcd", "--name", f"m{i}", "--data-dir", os.path.join(workdir, f"d{i}"),
            "--listen-client-urls", f"http://127.0.0.1:{CLIENT[i]}",
            "--advertise-client-urls", f"http://127.0.0.1:{CLIENT[i]}",
            "--listen-peer-urls", f"http://127.0.0.1:{PEER[i]}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{PEER[i]}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--logger", "zap", "--log-outputs", "stderr"], stdout=log, stderr=log)
    problem = None
    for _ in range(100):
        try:
            if all(status(i).get("leader", "0") != "0" for i in (1, 2, 3)):
                return procs
        except Exception as e:
            problem = e
        time.sleep(0.1)
    raise SystemExit(f"the cluster did not elect a leader: {problem}")


def trial(procs):
    sts = {i: status(i) for i in (1, 2, 3)}
    leader = next(i for i in sts if sts[i]["header"]["member_id"] == sts[1]["leader"])
    victim = next(i for i in (1, 2, 3) if i != leader)
    stop = threading.Event()

    def writer():
        n, value = 0, base64.b64encode(b"v" * 100).decode()
        while not stop.is_set():
            n += 1
            key = base64.b64encode(b"k%d" % n).decode()
            try:
                post(CLIENT[leader], "/v3/kv/put", {"key": key, "value": value})
            except Exception:
                pass
            time.sleep(0.02)

    w = threading.Thread(target=writer)
    w.start()
    time.sleep(2)
    procs[victim].send_signal(signal.SIGSTOP)
    time.sleep(FREEZE_S)
    target = int(status(leader)["raftIndex"])
    procs[victim].send_signal(signal.SIGCONT)
    resumed = time.time()
    took = None
    while took is None and time.time() - resumed < 20:
        try:
            if int(status(victim, timeout=0.5)["raftIndex"]) >= target:
                took = time.time() - resumed
        except Exception:
            pass
        time.sleep(0.005)
    stop.set()
    w.join()
    terms = sorted({status(i)["raftTerm"] for i in (1, 2, 3)})
    return took, target, terms


def main():
    with tempfile.TemporaryDirectory() as workdir:
        procs = start_cluster(workdir)
        try:
            for t in range(TRIALS):
                took, target, terms = trial(procs)
                shown = "never (20 s)" if took is None else f"{took * 1000:.0f} ms"
                print(f"trial {t + 1}: caught up to index {target} in {shown}; terms {terms}")
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGCONT)
                p.kill()


if __name__ == "__main__":
    main()
