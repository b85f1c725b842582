"""Real kernel and systemd messages quoted from public bug reports, with their sources.

Each entry is one *event* as a kernel (or systemd) logged it: one to three lines, quoted
verbatim from the cited public page except for the leading timestamp and host (the corpus
builder stamps each line with its own time and host, as syslog would) and, when a recording
repeats an event, its process ids (a process killed again is a new process: each repetition
moves the pids listed in ``pids``). Process names, PIDs,
addresses and wordings are the reporters' own; that is the point: kernels differ in wording
(``Kill process`` on 3.x/4.x kernels, ``Killed process`` on 5.x, cgroup v1 ``Memory cgroup
out of memory``, NMI watchdog vs watchdog soft lockups, x86 ``BUG:`` vs ARM ``Internal error:
Oops``) and a detector that only knows one wording misses the others.

The corpus manifest lists, per recording, the source of every quoted event it uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    family: str  # oom, panic, oops, lockup, hung, segfault, systemd, benign
    lines: tuple[str, ...]
    source: str  # the public page quoted
    pids: tuple[str, ...] = ()  # process ids in the lines, renumbered when the event repeats

    def repeated(self, n: int) -> tuple[str, ...]:
        """The lines of the ``n``-th repetition (0: as quoted). A process the kernel kills
        again is a new process with a new pid, so each pid is moved by ``n``; the wording is
        untouched."""
        if n == 0 or not self.pids:
            return self.lines
        out = []
        for line in self.lines:
            moved = line
            for pid in self.pids:
                moved = re.sub(rf"(?<!\d){pid}(?!\d)", str(int(pid) + 17 * n), moved)
            out.append(moved)
        return tuple(out)


EVENTS: dict[str, Event] = {
    # ------------------------------------------------------------------ OOM kills
    "oom-3x-python2": Event(
        "oom",
        (
            "Out of memory: Kill process 21518 (python2) score 752 or sacrifice child",
            "Killed process 21518 (python2) total-vm:13345928kB, anon-rss:12721928kB, file-rss:4kB",
        ),
        "https://github.com/alibaba-archive/alicloud-duplicity/issues/3",
        pids=("21518",),
    ),
    "oom-4x-R": Event(
        "oom",
        (
            "Out of memory: Kill process 27438 (R) score 31 or sacrifice child",
            "Killed process 27438 (R) total-vm:38349780kB, anon-rss:1041924kB, file-rss:4kB, "
            "shmem-rss:0kB",
        ),
        "https://github.com/genular/pandora/issues/49",
        pids=("27438",),
    ),
    "oom-memcg-v1-palo": Event(
        "oom",
        (
            "Memory cgroup out of memory: Kill process 24984 (palo_be) score 968 or sacrifice "
            "child",
            "Killed process 18177 (palo_be), UID 0, total-vm:70347780kB, anon-rss:45563572kB, "
            "file-rss:0kB, shmem-rss:0kB",
        ),
        "https://github.com/apache/doris/issues/3525",
        pids=(
            "24984",
            "18177",
        ),
    ),
    "oom-memcg-v1-ltp": Event(
        "oom",
        (
            "Memory cgroup out of memory: Kill process 42453 (memcg_test_1) score 0 or "
            "sacrifice child",
            "Killed process 42453 (memcg_test_1), UID 0, total-vm:7296kB, anon-rss:96kB, "
            "file-rss:164kB, shmem-rss:0kB",
        ),
        "https://github.com/linux-test-project/ltp/issues/1080",
        pids=("42453",),
    ),
    "oom-memcg-5x-uwsgi": Event(
        "oom",
        (
            "uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=986",
            "Memory cgroup out of memory: Killed process 63214 (uwsgi) total-vm:3149468kB, "
            "anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 pgtables:1372kB "
            "oom_score_adj:986",
            "oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, file-rss:0kB, "
            "shmem-rss:92kB",
        ),
        "https://github.com/reportportal/kubernetes/issues/203",
        pids=("63214",),
    ),
    "oom-3x-java-invoked": Event(
        "oom",
        ("java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0",),
        "https://github.com/d2iq-archive/marathon/issues/1295",
    ),
    "oom-el7-php-invoked": Event(
        "oom",
        ("php.bin invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0",),
        "https://github.com/moby/moby/issues/15905",
    ),
    # ------------------------------------------------------------------ panics
    "panic-fatal-interrupt": Event(
        "panic",
        (
            "---[ end trace a5c45f4ead0855a5 ]---",
            "Kernel panic - not syncing: Fatal exception in interrupt",
        ),
        "https://github.com/sipeed/LicheePi4A/issues/22",
    ),
    "panic-mips-interrupt": Event(
        "panic",
        ("Kernel panic - not syncing: Fatal exception in interrupt",),
        "https://github.com/stich86/UF-Instant-Mod/issues/24",
    ),
    "panic-kill-init": Event(
        "panic",
        (
            "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
            "---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000200",
        ),
        "https://github.com/linuxboot/heads/issues/833",
    ),
    # ------------------------------------------------------------------ oops / BUG
    "oops-x86-kdbus": Event(
        "oops",
        (
            "BUG: unable to handle kernel NULL pointer dereference at 0000000000000018",
            "IP: [<ffffffffa007c0f2>] kdbus_name_release_all+0x32/0xd0 [kdbus]",
            "Oops: 0000 [#1] SMP ",
        ),
        "https://github.com/systemd/systemd/issues/378",
    ),
    "oops-arm-817": Event(
        "oops",
        (
            "Unable to handle kernel NULL pointer dereference at virtual address 00000034",
            "Internal error: Oops: 817 [#1] ARM",
        ),
        "https://github.com/raspberrypi/linux/issues/1256",
    ),
    "oops-arm-17": Event(
        "oops",
        (
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000c",
            "Internal error: Oops: 17 [#2] ARM",
        ),
        "https://github.com/derf/feh/issues/574",
    ),
    # ------------------------------------------------------------------ soft lockups
    "lockup-cc1plus": Event(
        "lockup",
        ("watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [cc1plus:171665]",),
        "https://github.com/starfive-tech/Fedora_on_StarFive/issues/34",
        pids=("171665",),
    ),
    "lockup-chia": Event(
        "lockup",
        ("watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [chia_plot:29632]",),
        "https://github.com/madMAx43v3r/chia-plotter/issues/535",
        pids=("29632",),
    ),
    "lockup-nmi-zfs": Event(
        "lockup",
        ("NMI watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [SimpleCacheWork:8140]",),
        "https://github.com/openzfs/zfs/issues/4536",
        pids=("8140",),
    ),
    # ------------------------------------------------------------------ hung tasks
    "hung-kworker": Event(
        "hung",
        (
            "INFO: task kworker/2:1:5747 blocked for more than 120 seconds.",
            "      Tainted: G        W   E     4.19.0-6-amd64 #1 Debian 4.19.67-2+deb10u2",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/4822",
        pids=("5747",),
    ),
    "hung-logrotate": Event(
        "hung",
        (
            "INFO: task logrotate:17344 blocked for more than 120 seconds.",
            "      Not tainted 4.16.2-1.el7.elrepo.x86_64 #1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/logrotate/logrotate/issues/232",
        pids=("17344",),
    ),
    "hung-glusterfsd": Event(
        "hung",
        (
            "INFO: task glusterfsd:26120 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/gluster/gluster-health-report/pull/19",
        pids=("26120",),
    ),
    # ------------------------------------------------------------------ segfaults
    "segv-alba-1": Event(
        "segfault",
        (
            "alba[12711]: segfault at 8 ip 00000000007394e4 sp 00007ffc37e3f680 error 4 in "
            "alba[400000+be4000]",
        ),
        "https://github.com/openvstorage/alba/issues/617",
        pids=("12711",),
    ),
    "segv-alba-2": Event(
        "segfault",
        (
            "alba[4451]: segfault at 0 ip 000000000088459f sp 00007fffc01e9010 error 4 in "
            "alba[400000+be4000]",
        ),
        "https://github.com/openvstorage/alba/issues/617",
        pids=("4451",),
    ),
    "segv-alba-3": Event(
        "segfault",
        (
            "alba[6066]: segfault at fffffffffffffff8 ip 0000000000dc562c sp 00007ffc1e088690 "
            "error 5 in alba[400000+be4000]",
        ),
        "https://github.com/openvstorage/alba/issues/617",
        pids=("6066",),
    ),
    "segv-p4": Event(
        "segfault",
        (
            "p4[28564]: segfault at 0 ip 0000000000405aa3 sp 00007ffdb284d0e0 error 6 in "
            "p4[400000+12000]",
        ),
        "https://github.com/horchi/linux-p4d/issues/5",
        pids=("28564",),
    ),
    "segv-pamac": Event(
        "segfault",
        (
            "pamac-daemon[6861]: segfault at 20 ip 00007fb08de46490 sp 00007ffee0f13af8 error 4 "
            "in libglib-2.0.so.0.4800.2[7fb08ddc2000+10d000]",
        ),
        "https://github.com/manjaro/pamac/issues/168",
        pids=("6861",),
    ),
    # ------------------------------------------------------------------ systemd units
    "systemd-miniflux": Event(
        "systemd",
        (
            "miniflux.service: Main process exited, code=exited, status=1/FAILURE",
            "miniflux.service: Failed with result 'exit-code'.",
            "miniflux.service: Scheduled restart job, restart counter is at 5.",
        ),
        "https://github.com/miniflux/v2/issues/339",
    ),
    "systemd-owserver-limit": Event(
        "systemd",
        (
            "owserver.service: Start request repeated too quickly.",
            "owserver.service: Failed with result 'exit-code'.",
            "Failed to start owserver.service - Backend server for 1-wire control.",
        ),
        "https://github.com/owfs/owfs/issues/116",
    ),
    "systemd-namespace": Event(
        "systemd",
        (
            "run-u11.service: Main process exited, code=exited, status=226/NAMESPACE",
            "run-u11.service: Failed with result 'exit-code'.",
        ),
        "https://github.com/systemd/systemd-centos-ci/issues/306",
    ),
    # ------------------------------------------------------------------ benign
    "systemd-stop-term": Event(
        "benign",
        ("ssss.service: Main process exited, code=killed, status=15/TERM",),
        "https://github.com/systemd/systemd/issues/13372",
    ),
    # ------------------------------------------------------------------ held-out-3
    # Added with the held-out-3 recordings (corpus/build.py ``held_out_3``): other kernels,
    # other wordings, quoted from further public reports.
    "oom-memcg-v1-k8s-java": Event(
        "oom",
        (
            "Memory cgroup out of memory: Kill process 24572 (java) score 0 or sacrifice child",
            "Killed process 28438 (java) total-vm:20255636kB, anon-rss:466160kB, file-rss:13684kB",
        ),
        "https://github.com/kubernetes/kubernetes/issues/56891",
        pids=("24572", "28438"),
    ),
    "oom-el6-mysqld-single": Event(
        "oom",
        (
            "Killed process 11726, UID 498, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, "
            "file-rss:768kB",
        ),
        "https://github.com/cPanelSSP/SSP/issues/76",
        pids=("11726",),
    ),
    "oom-sle-memcg-invoked": Event(
        "oom",
        (
            "harvester-netwo invoked oom-killer: gfp_mask=0x1100cca(GFP_HIGHUSER_MOVABLE), "
            "order=0, oom_score_adj=999",
        ),
        "https://github.com/harvester/harvester/issues/7545",
    ),
    "panic-softlockup-5x": Event(
        "panic",
        (
            "watchdog: BUG: soft lockup - CPU#2 stuck for 23s! [kworker/2:1:25629]",
            "Kernel panic - not syncing: softlockup: hung tasks",
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/17358",
    ),
    "panic-hung-task": Event(
        "panic",
        ("Kernel panic - not syncing: hung_task: blocked tasks",),
        "https://github.com/ayufan-rock64/linux-build/issues/267",
    ),
    "oops-gpf-5x": Event(
        "oops",
        (
            "general protection fault: 0000 [#1] SMP PTI",
            "CPU: 6 PID: 573 Comm: systemd-udevd Not tainted 5.1.0+ #7",
            "RIP: 0010:strcmp+0x8/0x20",
        ),
        "https://github.com/koverstreet/bcachefs/issues/49",
    ),
    "oops-pagefault-6x": Event(
        "oops",
        (
            "BUG: unable to handle page fault for address: 0000000000010000",
            "#PF: supervisor read access in kernel mode",
            "Oops: Oops: 0000 [#1] PREEMPT SMP PTI",
        ),
        "https://github.com/jnicolson/gasket-builder/issues/8",
    ),
    "oops-gpf-6x-aufs": Event(
        "oops",
        (
            "Oops: general protection fault, probably for non-canonical address "
            "0xdead0000000000e8: 0000 [#1] PREEMPT SMP NOPTI",
            "RIP: 0010:au_mf_find+0x4a/0xc0 [aufs]",
        ),
        "https://github.com/sfjro/aufs-standalone/issues/64",
    ),
    "lockup-old-migration": Event(
        "lockup",
        ("BUG: soft lockup - CPU#10 stuck for 23s! [migration/10:346]",),
        "https://github.com/multipath-tcp/mptcp/issues/99",
    ),
    "lockup-nmi-python": Event(
        "lockup",
        ("NMI watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [python3.6:22618]",),
        "https://github.com/Broadcom/sonic-VirtualSwitch/issues/2",
        pids=("22618",),
    ),
    "hung-balenad": Event(
        "hung",
        (
            "INFO: task balenad:4049 blocked for more than 120 seconds.",
            "      Not tainted 4.9.140-l4t-r32.4 #1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/balena-os/meta-balena/pull/2193",
        pids=("4049",),
    ),
    "segv-python-6x": Event(
        "segfault",
        (
            "python[5019]: segfault at 1 ip 0000000000000001 sp 00007fff75097a90 error 14 likely "
            "on CPU 1 (core 1, socket 0)",
            "Code: Unable to access opcode bytes at 0xffffffffffffffd7.",
        ),
        "https://github.com/cloudnative-pg/cloudnative-pg/issues/6150",
        pids=("5019",),
    ),
    "segv-turnserver": Event(
        "segfault",
        (
            "turnserver[15494]: segfault at bd ip 00007f559238d562 sp 00007f554fbb4bc0 error 4 in "
            "libc-2.23.so[7f5592309000+1c0000]",
        ),
        "https://github.com/coturn/coturn/issues/762",
        pids=("15494",),
    ),
    "gp-cupsd": Event(
        "segfault",
        (
            "cupsd[9073] general protection ip:7f3dd1338716 sp:7ffdadea62d8 error:0 in "
            "libc-2.12.so[7f3dd1210000+18b000]",
        ),
        "https://github.com/apple/cups/issues/5687",
        pids=("9073",),
    ),
    "segv-runc-once": Event(
        "segfault",  # the reporter saw no functional impact: one crash of a short-lived helper
        (
            "runc[7180]: segfault at 7f5bcbc36f78 ip 00007f5bf39d67da sp 00007f5bcbc36f80 error 6 "
            "likely on CPU 0 (core 0, socket 0)",
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/19987",
    ),
    "systemd-alba-coredump": Event(
        "systemd",
        (
            "ovs-albaproxy_vp1.service: Main process exited, code=dumped, status=11/SEGV",
            "ovs-albaproxy_vp1.service: Unit entered failed state.",
            "ovs-albaproxy_vp1.service: Failed with result 'core-dump'.",
        ),
        "https://github.com/openvstorage/alba/issues/508",
    ),
    "systemd-kiwix-signal": Event(
        "systemd",
        (
            "kiwix-serve.service: Control process exited, code=killed, status=11/SEGV",
            "kiwix-serve.service: Failed with result 'signal'.",
        ),
        "https://github.com/kiwix/kiwix-tools/issues/341",
    ),
    "systemd-old-iot": Event(
        "systemd",
        (
            "iot.service: main process exited, code=dumped, status=11/SEGV",
            "Unit iot.service entered failed state.",
            "iot.service holdoff time over, scheduling restart.",
        ),
        "https://github.com/systemd/systemd/issues/13574",
    ),
    # ------------------------------------------------------------------ held-out-4 (round 5)
    "oom-reaper-python3": Event(
        "oom",
        (
            "Out of memory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:4288kB, "
            "file-rss:3028kB, shmem-rss:0kB",
            "oom_reaper: reaped process 15784 (python3), now anon-rss:0kB, file-rss:0kB, "
            "shmem-rss:0kB",
        ),
        "https://github.com/docker/for-linux/issues/1001",
        pids=("15784",),
    ),
    "oomd-testbloat": Event(
        "oom",  # systemd-oomd (userspace) kills a unit: syslog lines, no kernel line at all
        (
            "systemd-oomd[70]: oomd attempting to kill 113 with KILL",
            "systemd[34]: testsuite-55-testbloat.service: Main process exited, code=killed, "
            "status=9/KILL",
            "systemd[34]: testsuite-55-testbloat.service: Failed with result 'signal'.",
        ),
        "https://github.com/systemd/systemd/pull/22032",
        pids=("113",),
    ),
    "panic-fatal-irq-x86": Event(
        "panic",
        (
            "Kernel panic - not syncing: Fatal exception in interrupt",
            "Shutting down cpus with NMI",
            "Kernel Offset: 0xce00000 from 0xffffffff81000000 (relocation range: "
            "0xffffffff80000000-0xffffffffbfffffff)",
            "---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---",
        ),
        "https://github.com/linux-speakup/speakup/issues/1",
    ),
    "oops-riscv-paging": Event(
        "oops",
        (
            "Unable to handle kernel paging request at virtual address 0000005f837c3064",
            "Oops [#1]",
            "CPU: 0 PID: 0 Comm: swapper/0 Tainted: G W 5.10.41 #1",
        ),
        "https://github.com/sifiveinc/meta-sifive/issues/40",
    ),
    "oops-null-6x-xenbus": Event(
        "oops",
        (
            "BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "CPU: 1 PID: 28 Comm: xenbus Not tainted 6.1.57-1.qubes.fc37.x86_64 #1",
        ),
        "https://github.com/QubesOS/qubes-issues/issues/8638",
    ),
    "gpf-3x-cron": Event(
        "oops",  # a 3.15 kernel's general protection fault in kernel mode (no "Oops" word)
        (
            "general protection fault: 0000 [#3] SMP ",
            "CPU: 0 PID: 5444 Comm: cron Tainted: G      D       3.15.0 #2",
        ),
        "https://github.com/IRATI/stack/issues/470",
        pids=("5444",),
    ),
    "lockup-rcu-kvm": Event(
        "lockup",
        (
            "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 2471s! [CPU 0/KVM:31664]",
        ),
        "https://github.com/harvester/harvester/issues/564",
    ),
    "lockup-kworker-openrisc": Event(
        "lockup",
        (
            "watchdog: BUG: soft lockup - CPU#0 stuck for 186s! [kworker/u3:3:2073]",
            "Modules linked in:",
            "CPU: 0 PID: 2073 Comm: kworker/u3:3 Tainted: G        W         "
            "5.7.0-rc2-simple-smp-00001-g6bd140e14d9a-dirty #109",
        ),
        "https://github.com/openrisc/linux/issues/12",
    ),
    "hung-sof-kworker-122": Event(
        "hung",
        (
            "INFO: task kworker/u32:2:113 blocked for more than 122 seconds.",
            "      Not tainted 5.18.0-rc2-daily-default-20220531-0-g46f61a08b40c #dev",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "task:kworker/u32:2   state:D stack:13032 pid:  113 ppid:     2 flags:0x00004000",
        ),
        "https://github.com/thesofproject/linux/issues/3387",
    ),
    "hung-ddnet-old": Event(
        "hung",
        (
            "INFO: task DDRace64-Server:27090 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "DDRace64-Server D ffff88007a2dd140     0 27090   3047 0x00000000",
        ),
        "https://github.com/ddnet/ddnet/issues/401",
    ),
    "segv-rspamd-libc": Event(
        "segfault",
        (
            "rspamd[26613]: segfault at 8995cf ip 00007f7d59e4555a sp 00007ffe8d6b9080 error 7 "
            "in libc-2.19.so[7f7d59dc0000+1a2000]",
        ),
        "https://github.com/rspamd/rspamd/issues/665",
        pids=("26613",),
    ),
    "segv-tokio-code": Event(
        "segfault",
        (
            "tokio-runtime-w[3552]: segfault at 7f61f67fb990 ip 00007f623575ade4 sp "
            "00007f6234c3b6d0 error 4 in libc.so.6[72de4,7f62356e8000+16f000] likely on CPU 4 "
            "(core 4, socket 0)",
            "Code: b1 55 f8 5d c3 90 f3 0f 1e fa 55 48 89 e5 41 57 41 56 41 55 41 54 53 48 83 ec "
            "48 64 48 8b 04 25 28 00 00 00 48 89 45 c8 31 c0 <8b> 87 d0 02 00 00 85 c0 0f 88 3e "
            "01 00 00 48 89 fb 48 39 bf 20 06",
        ),
        "https://github.com/pop-os/cosmic-app-library/issues/234",
        pids=("3552",),
    ),
    "segv-ipmi-sensors": Event(
        "segfault",
        (
            "IPMI[sensors][7699]: segfault at 4 ip 000055f2ed932514 sp 00007fbcb9e0cde0 error 6 "
            "in freeipmi.plugin[55f2ed902000+63000] likely on CPU 1 (core 1, socket 0)",
        ),
        "https://github.com/netdata/netdata/issues/15802",
        pids=("7699",),
    ),
    "gp-ipmi-sel": Event(
        "segfault",
        (
            "traps: IPMI[sel][7811] general protection fault ip:7f90aa200664 sp:7f90aa0697f8 "
            "error:0 in ld-musl-x86_64.so.1[7f90aa1ef000+4c000]",
        ),
        "https://github.com/netdata/netdata/issues/15802",
        pids=("7811",),
    ),
    "segv-shellinabox-once": Event(
        "segfault",
        (
            "shellinaboxd[9571]: segfault at 0 ip 00007f182b2a6cad sp 00007fffcbe41740 error 4 "
            "in libc-2.12.so[7f182b240000+18a000]",
        ),
        "https://github.com/shellinabox/shellinabox/issues/389",
        pids=("9571",),
    ),
    "systemd-testchill-kill": Event(
        "systemd",
        (
            "testsuite-55-testchill.service: Main process exited, code=killed, status=9/KILL",
            "testsuite-55-testchill.service: Failed with result 'signal'.",
        ),
        "https://github.com/systemd/systemd/pull/22032",
    ),
    # ------------------------------------------------------------------ held-out-5 (round 6)
    "oom-memcg-v2-efs-python": Event(
        "oom",  # a 5.x cgroup-v2 kill: one line per kill, nothing else reached the log
        (
            "Memory cgroup out of memory: Killed process 140339 (python3) total-vm:120832kB, "
            "anon-rss:15596kB, file-rss:8924kB, shmem-rss:0kB, UID:0 pgtables:276kB "
            "oom_score_adj:-997",
        ),
        "https://github.com/kubernetes-sigs/aws-efs-csi-driver/issues/1218",
        pids=("140339",),
    ),
    "oom-memcg-v1-limit-istio": Event(
        "oom",  # cgroup v1 on a 3.10 kernel: the limit lines, no "Out of memory" word at all
        (
            "Task in /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0330b2c1_"
            "a15b_4cdd_b5e5_72d4a90bee82.slice/docker-b27201334a41cd0749d053b18378d7ea65617b8e"
            "26277197ea25c974da1a5a8a.scope killed as a result of limit of /kubepods.slice/"
            "kubepods-burstable.slice/kubepods-burstable-pod0330b2c1_a15b_4cdd_b5e5_72d4a90bee82"
            ".slice/docker-b27201334a41cd0749d053b18378d7ea65617b8e26277197ea25c974da1a5a8a.scope",
            "memory: usage 1048576kB, limit 1048576kB, failcnt 189",
        ),
        "https://github.com/istio/istio/issues/42734",
    ),
    "oom-el6-uid-python27": Event(
        "oom",  # RHEL 6 wording: "Killed process N, UID U, (name)"
        (
            "Out of memory: Kill process 29591 (python2.7) score 658 or sacrifice child",
            "Killed process 29591, UID 500, (python2.7) total-vm:3446192kB, anon-rss:2751508kB, "
            "file-rss:20kB",
        ),
        "https://github.com/Soltra/plugin-crits/issues/1",
        pids=("29591",),
    ),
    "oom-3x-invoked-oom-adj": Event(
        "oom",  # a 3.0-era kernel that still prints oom_adj next to oom_score_adj
        (
            "osmcore_L invoked oom-killer: gfp_mask=0x200da, order=0, oom_adj=-17, "
            "oom_score_adj=-1000",
        ),
        "https://github.com/eolwral/OSMonitor/issues/54",
    ),
    "panic-oom-compulsory": Event(
        "panic",  # panic_on_oom=2 on a 3.16 kernel: the OOM becomes a panic
        (
            "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled",
            "CPU: 1 PID: 243 Comm: kworker/1:2 Tainted: G         C O  3.16.0-6-amd64 #1 "
            "Debian 3.16.57-2",
        ),
        "https://github.com/sonic-net/sonic-buildimage/pull/2988",
    ),
    "panic-deadlocked-memory": Event(
        "panic",
        (
            "Out of memory and no killable processes...",
            "Kernel panic - not syncing: System is deadlocked on memory",
            "CPU: 3 PID: 724 Comm: systemd-userdbd Tainted: G        W  OE     5.10.35perf+ #1",
        ),
        "https://github.com/tempesta-tech/tempesta/issues/1789",
    ),
    "oops-null-4x-xorg": Event(
        "oops",  # a 4.14 x86 oops: "BUG: unable to handle kernel NULL pointer dereference at"
        (
            "BUG: unable to handle kernel NULL pointer dereference at 00000000000008d0",
            "IP: check_preempt_curr+0x28/0x90",
            "Oops: 0000 [#5] SMP",
        ),
        "https://github.com/minipli/linux-unofficial_grsec/issues/13",
    ),
    "oops-arm-paging-805": Event(
        "oops",  # a 32-bit ARM BMC: paging request, "Internal error: Oops: 805"
        (
            "Unable to handle kernel paging request at virtual address 12005456",
            "pgd = 80004000",
            "Internal error: Oops: 805 [#1] ARM",
        ),
        "https://github.com/openbmc/linux/issues/134",
    ),
    "lockup-3x-v2ray": Event(
        "lockup",  # a 3.16 kernel: no "watchdog:" prefix
        ("BUG: soft lockup - CPU#0 stuck for 21s! [v2ray:1272]",),
        "https://github.com/v2ray/v2ray-core/issues/473",
        pids=("1272",),
    ),
    "lockup-watchdog-250s": Event(
        "lockup",
        ("watchdog: BUG: soft lockup - CPU#14 stuck for 250s! [rg:4625]",),
        "https://github.com/cosmoss-jigu/memtis/issues/2",
        pids=("4625",),
    ),
    "hung-3x-mips": Event(
        "hung",  # a 3.0.8 MIPS kernel, reported again every 120 s while the task stays stuck
        (
            "INFO: task kinteractiveup:64 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/MIPS/CI20_linux/issues/8",
    ),
    "hung-hhvm-coreos": Event(
        "hung",  # CoreOS: the report without the "echo 0" line
        (
            "INFO: task hhvm:1577 blocked for more than 120 seconds.",
            "hhvm            D ffff8800b5103ca8     0  1577   1371 0x00000000",
        ),
        "https://github.com/coreos/coreos-vagrant/issues/222",
    ),
    "segv-nginx-modsec-libc": Event(
        "segfault",  # nginx workers with ModSecurity, a minute apart in the report
        (
            "nginx[10347]: segfault at 0 ip 00007ffbbfa58646 sp 00007fff7c0c0d38 error 4 in "
            "libc-2.27.so[7ffbbf9a7000+1e7000]",
        ),
        "https://github.com/owasp-modsecurity/ModSecurity/issues/2216",
        pids=("10347",),
    ),
    "gp-nginx-ldap-old": Event(
        "segfault",  # an older kernel's trap line: "general protection ip:", no "traps:"
        (
            "nginx[1963] general protection ip:476661 sp:7fffd9f29a90 error:0 in "
            "nginx[400000+97000]",
        ),
        "https://github.com/kvspb/nginx-auth-ldap/issues/118",
        pids=("1963",),
    ),
    "segv-nginx-libapr": Event(
        "segfault",
        (
            "nginx[8607]: segfault at 10 ip 000000376e616a11 sp 00007ffffa8206e0 error 4 in "
            "libapr-1.so.0.3.9[376e600000+2b000]",
        ),
        "https://github.com/owasp-modsecurity/ModSecurity/issues/935",
        pids=("8607",),
    ),
    "systemd-old-entered-failed": Event(
        "systemd",  # systemd of 2015: "Unit ... entered failed state", lower-case "start request"
        (
            "r101-bablefish.1.web.1.service: control process exited, code=exited status=1",
            "Unit r101-bablefish.1.web.1.service entered failed state.",
            "r101-bablefish.1.web.1.service failed.",
        ),
        "https://github.com/remind101/empire/issues/160",
    ),
    "systemd-ebusd-holdoff": Event(
        "systemd",
        (
            "ebusd.service: Failed with result 'exit-code'.",
            "ebusd.service: Service hold-off time over, scheduling restart.",
        ),
        "https://github.com/john30/ebusd/issues/229",
    ),
    "systemd-bitcoind-gave-up": Event(
        "systemd",
        (
            "bitcoind.service: Start request repeated too quickly.",
            "bitcoind.service: Failed with result 'exit-code'.",
            "Failed to start Bitcoin daemon.",
        ),
        "https://github.com/bitcoin/bitcoin/issues/26718",
    ),
    "systemd-motdgen-too-quickly": Event(
        "systemd",  # a healthy host's helper unit: the old "start request repeated" wording
        (
            "start request repeated too quickly for motdgen.service",
            "Failed to start Generate /run/coreos/motd.",
            "motdgen.service failed.",
        ),
        "https://github.com/coreos/bugs/issues/478",
    ),
    # ------------------------------------------------------------------ held-out-6 (round 7)
    # Added with corpus/held_out_6.py, by a helper that changed no rule: reports no other half
    # cites, wordings of other kernels and set-ups (a kill line alone, "Killed process N
    # (name), UID U" without an "Out of memory" line, 5.x/6.x "BUG: kernel NULL pointer
    # dereference, address:", "likely on CPU" segfaults, hung tasks of EL6 and Debian 4.9).
    "oom-6x-uwsgi-single": Event(
        "oom",  # a 6.x global OOM: only the kill line, as dmesg -T showed it
        (
            "Out of memory: Killed process 3581527 (uwsgi) total-vm:517892kB, anon-rss:263092kB, "
            "file-rss:29128kB, shmem-rss:0kB, UID:33 pgtables:740kB oom_score_adj:0",
        ),
        "https://github.com/inducer/relate/issues/1383",
        pids=("3581527",),
    ),
    "oom-invoked-postgres-6x": Event(
        "oom",  # the first line of a 6.16 OOM report (postgres asking for memory)
        (
            "postgres invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO|"
            "__GFP_COMP), order=0, oom_score_adj=0",
        ),
        "https://github.com/inducer/relate/issues/1383",
    ),
    "oom-killed-uid-node": Event(
        "oom",  # "Killed process N (name), UID U, ..." alone: no "Out of memory" line per kill
        (
            "Killed process 817194 (node), UID 1000, total-vm:674616kB, anon-rss:133380kB, "
            "file-rss:13648kB, shmem-rss:0kB",
        ),
        "https://github.com/kubernetes/kubernetes/issues/50632",
        pids=("817194",),
    ),
    "oom-invoked-kvm-memcg": Event(
        "oom",  # one invocation of the OOM killer in a VM's memory cgroup (SLE 15, 5.3)
        ("CPU 2/KVM invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=872",),
        "https://github.com/harvester/harvester/issues/2419",
    ),
    "pg-backend-killed-9": Event(
        "postgres",  # the postmaster's view of an OOM kill: a backend gone, everyone reset
        (
            "LOG:  server process (PID 7916) was terminated by signal 9: Killed",
            "LOG:  terminating any other active server processes",
        ),
        "https://github.com/yugabyte/yugabyte-db/issues/13014",
        pids=("7916",),
    ),
    "panic-fatal-irq-rpi": Event(
        "panic",  # a 4.14 ARM board: the oops's end, the panic, the other CPUs stopped
        (
            "---[ end trace fca7f6b2e3a7e977 ]---",
            "Kernel panic - not syncing: Fatal exception in interrupt",
            "CPU3: stopping",
        ),
        "https://github.com/raspberrypi/linux/issues/2538",
    ),
    "panic-kill-init-segv": Event(
        "panic",  # init died of SIGSEGV (exitcode 0xb)
        (
            "---[ end trace 557b6545dd4e5fa2 ]---",
            "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b",
        ),
        "https://github.com/OpenNuvoton/NUC970_Buildroot/issues/11",
    ),
    "oops-null-5x-write": Event(
        "oops",  # 5.15: "BUG: kernel NULL pointer dereference, address:", a write access
        (
            "BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "#PF: supervisor write access in kernel mode",
            "#PF: error_code(0x0002) - not-present page",
            "Oops: 0002 [#1] SMP NOPTI",
            "CPU: 21 PID: 1065141 Comm: CPU 7/KVM Tainted: P           O      5.15.0-43-generic "
            "#46-Ubuntu",
        ),
        "https://github.com/openzfs/zfs/issues/10642",
    ),
    "oops-null-6x-read": Event(
        "oops",  # 6.1 (Debian 12): a read access, PREEMPT SMP NOPTI
        (
            "BUG: kernel NULL pointer dereference, address: 00000000000002d0",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "PGD 2ba1a5067 P4D 0",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "CPU: 7 PID: 15623 Comm: cat Tainted: GF          OE      6.1.0-22-2-amd64 #1  "
            "Debian 6.1.94-1",
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/22166",
    ),
    "oops-null-3x-uksm": Event(
        "oops",  # a 3.x kernel: "at           (null)", the IP: line
        (
            "BUG: unable to handle kernel NULL pointer dereference at           (null)",
            "IP: [<ffffffff811c5050>] scan_vma_one_page+0x1a0/0x1430",
            "Oops: 0000 [#1] SMP",
        ),
        "https://github.com/dolohow/uksm/issues/18",
    ),
    "lockup-frigate-23s": Event(
        "lockup",
        ("watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [frigate.output:1243199]",),
        "https://github.com/blakeblackshear/frigate/issues/6360",
        pids=("1243199",),
    ),
    "lockup-eve-logging-22s": Event(
        "lockup",  # 5.10 linuxkit: the lockup line and its CPU line, tainted L (lockup)
        (
            "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [002-logging:310]",
            "CPU: 1 PID: 310 Comm: 002-logging Tainted: G             L    5.10.119-linuxkit #1",
        ),
        "https://github.com/lf-edge/eve/pull/2653",
        pids=("310",),
    ),
    "hung-mysqld-4x-debian": Event(
        "hung",  # Debian 9 (4.9): a database thread blocked on its file system
        (
            "INFO: task mysqld:187144 blocked for more than 120 seconds.",
            "      Tainted: P           O    4.9.0-8-amd64 #1 Debian 4.9.144-3.1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/openzfs/zfs/issues/10370",
    ),
    "hung-jbd2-el6": Event(
        "hung",  # RHEL 6 (2.6.32): the ext4 journal thread of a virtual disk
        (
            "INFO: task jbd2/vda1-8:404 blocked for more than 120 seconds.",
            "Not tainted 2.6.32-504.3.3.el6.x86_64 #1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/elastic/logstash/issues/3727",
    ),
    "hung-kworker-rpi-writeback": Event(
        "hung",  # a 4.14 ARM board writing back to a FUSE file system
        (
            "INFO: task kworker/u8:0:5 blocked for more than 120 seconds.",
            "      Tainted: G         C      4.14.17-v7+ #1090",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/raspberrypi/linux/issues/1587",
    ),
    "segv-sniproxy-libc213": Event(
        "segfault",  # crashed again and again, tens of seconds apart (the report's times)
        (
            "sniproxy[7827]: segfault at 1000 ip 00007fbbeed70cba sp 00007fff7179ecc0 error 4 in "
            "libc-2.13.so[7fbbeed2b000+182000]",
        ),
        "https://github.com/dlundquist/sniproxy/issues/86",
        pids=("7827",),
    ),
    "segv-iperf3-likely-cpu": Event(
        "segfault",  # 6.8: "likely on CPU N (core C, socket S)", then the Code: line
        (
            "iperf3[1525756]: segfault at 2d0 ip 00007b49bd09a8fd sp 00007fff39e19e80 error 4 in "
            "libc.so.6[7b49bd028000+188000] likely on CPU 12 (core 24, socket 0)",
            "Code: 2e 0f 1f 84 00 00 00 00 00 0f 1f 40 00 f3 0f 1e fa 55 48 89 e5 53 48 81 ec a8 "
            "00 00 00 64 48 8b 04 25 28 00 00 00 48 89 45 e8 <8b> 87 d0 02 00 00 85 c0 75 21 48 "
            "8b 45 e8 64 48 2b 04 25 28 00 00",
        ),
        "https://github.com/esnet/iperf/issues/1694",
        pids=("1525756",),
    ),
    "systemd-exit-onfailure": Event(
        "systemd",  # systemd 255: exit status, result, OnFailure= (restarted 5 s later)
        (
            "test-slack-reporting.service: Main process exited, code=exited, status=1/FAILURE",
            "test-slack-reporting.service: Failed with result 'exit-code'.",
            "test-slack-reporting.service: Triggering OnFailure= dependencies.",
        ),
        "https://github.com/systemd/systemd/issues/33710",
    ),
    "systemd-killed-9-testbloat": Event(
        "systemd",  # a unit's main process SIGKILLed (by an OOM killer) from PID 1's debug log
        ("testsuite-55-testbloat.service: Main process exited, code=killed, status=9/KILL",),
        "https://github.com/systemd/systemd/issues/20118",
    ),
    # ------------------------------------------------------------------ held-out-7 (round 8)
    # Added with corpus/held_out_7.py, by a helper that changed no rule: reports no other half
    # cites. Lines are the reporters' own; a prefix in ``syslog`` form (``systemd[1]: ``,
    # ``systemd-logind[N]: ``, ``postgres[N]: ``) is added by held_out_7.py as syslog writes it.
    "oom-el6-uid-java-gocd": Event(
        "oom",  # EL6: "Kill process" then "Killed process N, UID U, (name)"
        (
            "Out of memory: Kill process 26942 (java) score 216 or sacrifice child",
            "Killed process 26942, UID 498, (java) total-vm:1815188kB, anon-rss:637012kB, "
            "file-rss:268kB",
        ),
        "https://github.com/gocd/gocd/pull/2079",
        pids=("26942",),
    ),
    "oom-3x-influxdb": Event(
        "oom",  # a 3.x kernel killing a database that had grown to 30 GB
        (
            "Out of memory: Kill process 31158 (influxdb) score 623 or sacrifice child",
            "Killed process 31158 (influxdb) total-vm:35730744kB, anon-rss:30790420kB, "
            "file-rss:3392kB",
        ),
        "https://github.com/influxdata/influxdb/issues/917",
        pids=("31158",),
    ),
    "oom-invoked-gc-thread-5x": Event(
        "oom",  # 5.4 (Ubuntu): a JVM's GC thread asks for the page that starts the OOM report
        (
            "GC Thread#9 invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, "
            "oom_score_adj=0",
            "CPU: 2 PID: 25671 Comm: GC Thread#9 Not tainted 5.4.0-109-generic #123-Ubuntu",
        ),
        "https://github.com/quaquel/pyNetLogo/issues/53",
        pids=("25671",),
    ),
    "oom-3x-java-commafeed": Event(
        "oom",  # one kill of a JVM on a small droplet
        (
            "Out of memory: Kill process 1312 (java) score 497 or sacrifice child",
            "Killed process 1312 (java) total-vm:2133696kB, anon-rss:256140kB, file-rss:0kB",
        ),
        "https://github.com/Athou/commafeed/issues/792",
        pids=("1312",),
    ),
    "oom-invoked-java-aws-4x": Event(
        "oom",  # 4.4 on AWS: the report's first lines, cpuset line included
        (
            "java invoked oom-killer: gfp_mask=0x24201ca, order=0, oom_score_adj=0",
            "java cpuset=/ mems_allowed=0",
            "CPU: 0 PID: 3436 Comm: java Not tainted 4.4.0-1072-aws #82-Ubuntu",
        ),
        "https://github.com/Kurento/bugtracker/issues/313",
        pids=("3436",),
    ),
    "panic-vfs-root-5x": Event(
        "panic",  # a new kernel that cannot mount its root file system (5.14, Fedora 35)
        (
            'VFS: Cannot open root device "(null)" or unknown-block(0,0): error -6',
            'Please append a correct "root=" boot option; here are the available partitions:',
            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
            "CPU: 3 PID: 1 Comm: swapper/0 Not tainted 5.14.10-300.fc35.x86_64 #1",
        ),
        "https://github.com/libreswan/libreswan/issues/562",
    ),
    "panic-vfs-root-6x-uuid": Event(
        "panic",  # 6.11 (Fedora 41), root given by UUID, after an image upgrade
        (
            "/dev/root: Can't open blockdev",
            'VFS: Cannot open root device "UUID=96991ead-b3b0-48ef-a347-f8c3c0f86bf1" or '
            "unknown-block(0,0): error -6",
            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
            "CPU: 0 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.11.2-300.fc41.x86_64 #1",
        ),
        "https://github.com/Ultramarine-Linux/bootc/issues/4",
    ),
    "oops-gpf-3x-fail2ban": Event(
        "oops",  # 3.16 (SUSE): a GPF in kernel mode, the server restarted after it
        (
            "general protection fault: 0000 [#1] SMP",
            "Modules linked in: ipt_REJECT xt_multiport iptable_filter ip_tables x_tables "
            "af_packet iscsi_ibft iscsi_boot_sysfs nct6775 hwmon_vid ftdi_sio cp210x",
            "CPU: 3 PID: 14124 Comm: fail2ban-server Not tainted 3.16.7-35-default #1",
        ),
        "https://github.com/fail2ban/fail2ban/issues/1480",
    ),
    "oops-gpf-noncanonical-5x": Event(
        "oops",  # 5.6.16 with a hardening patch set: on a special packet, after a kernel update
        (
            "general protection fault, probably for non-canonical address 0x8030000000000000: "
            "0000 [#1] SMP PTI",
            "CPU: 1 PID: 1675 Comm: W-Q0 Not tainted 5.6.16-default #1",
            "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.10.2-1 04/01/2014",
            "RIP: 0010:0xffffffffc06b4f00",
        ),
        "https://github.com/anthraxx/linux-hardened/issues/43",
    ),
    "oops-gpf-4x-pti": Event(
        "oops",  # a 4.x kernel with page-table isolation, a module loaded by the release
        ("general protection fault: 0000 [#1] SMP PTI",),
        "https://github.com/f0rb1dd3n/Reptile/issues/17",
    ),
    "lockup-node-27s-pair": Event(
        "lockup",  # two CPUs stuck at once (a node worker and a kworker), as syslogd echoed them
        (
            "watchdog: BUG: soft lockup - CPU#0 stuck for 27s! [node:1984]",
            "watchdog: BUG: soft lockup - CPU#9 stuck for 27s! [kworker/9:0:24827]",
        ),
        "https://github.com/iron-fish/ironfish/issues/701",
        pids=("1984",),
    ),
    "lockup-node-22s": Event(
        "lockup",
        ("watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [node:297680]",),
        "https://github.com/iron-fish/ironfish/issues/701",
        pids=("297680",),
    ),
    "hardlockup-nmi-cpu3": Event(
        "lockup",  # the hard-lockup detector, between the soft lockups of the same report
        ("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3",),
        "https://github.com/iron-fish/ironfish/issues/701",
    ),
    "hung-postgres-import": Event(
        "hung",  # a PostgreSQL backend blocked on I/O during a large import (the line alone)
        ("INFO: task postgres:23094 blocked for more than 120 seconds.",),
        "https://github.com/mediagis/nominatim-docker/issues/152",
        pids=("23094",),
    ),
    "hung-jfsmount-no-info": Event(
        "hung",  # the report as a dmesg reader quotes it: no "INFO:" prefix, the task: line
        (
            "task jfsmount:136986 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "task:jfsmount        state:D stack:    0 pid: 9831 ppid:  9614 flags:0x00000004",
        ),
        "https://github.com/leptonai/gpud/pull/405",
    ),
    "segv-python3-bad-rip": Event(
        "segfault",  # an update broke python3.7: a jump to address 0, "Bad RIP value"
        (
            "python3[7777]: segfault at 0 ip 0000000000000000 sp 00007ffdb10ad908 error 14 in "
            "python3.7[55c288ff2000+5c000]",
            "Code: Bad RIP value.",
        ),
        "https://github.com/clearlinux/distribution/issues/1022",
        pids=("7777",),
    ),
    "coredump-python3-clear": Event(
        "systemd",  # the same crash as systemd-coredump logs it to syslog
        (
            "systemd[1]: Started Process Core Dump (PID 7781/UID 0).",
            "systemd-coredump[7784]: Process 7777 (python3) of user 1000 dumped core.",
        ),
        "https://github.com/clearlinux/distribution/issues/1022",
        pids=("7777", "7781", "7784"),
    ),
    "segv-python3-jemalloc": Event(
        "segfault",  # rate-limited signal messages, then the crash in libjemalloc
        (
            "show_signal_msg: 18 callbacks suppressed",
            "python3[142674]: segfault at 0 ip 00007fcd694604f8 sp 00007ffe84616e50 error 4 in "
            "libjemalloc.so.2[7fcd693e7000+7f000]",
        ),
        "https://github.com/home-assistant/core/issues/45531",
        pids=("142674",),
    ),
    "segv-python3-sqlite-once": Event(
        "segfault",  # the same report's other crash, days apart: in libsqlite3
        (
            "python3[148890]: segfault at 4184 ip 00007f9bddccc3db sp 00007f9bddff9f50 error 4 "
            "in libsqlite3.so.0.8.6[7f9bddcc1000+a1000]",
        ),
        "https://github.com/home-assistant/core/issues/45531",
    ),
    "segv-python2-libc227": Event(
        "segfault",  # a 2.27 libc crash with its Code: line
        (
            "python2[4598]: segfault at da84cf8 ip 00007f7b2cbac94d sp 00007ffe4e250b60 error 4 "
            "in libc-2.27.so[7f7b2cb15000+1e7000]",
            "Code: 8b 04 25 28 00 00 00 48 89 44 24 28 31 c0 48 8b 05 b8 35 35 00 48 8b 00 48 85 "
            "c0 0f 85 ac 02 00 00 48 85 ff 0f 84 23 01 00 00 <48> 8b 77 f8 4c 8d 6f f0 40 f6 c6 "
            "02 0f 85 39 01 00 00 48 8b 2d 12",
        ),
        "https://github.com/presto-osu/orlis-orcis/issues/4",
        pids=("4598",),
    ),
    "systemd-beszel-start-limit": Event(
        "systemd",  # Restart=always without a RestartSec: the fifth restart hits the limit
        (
            "beszel-hub.service: Scheduled restart job, restart counter is at 5.",
            "beszel-hub.service: Start request repeated too quickly.",
            "beszel-hub.service: Failed with result 'start-limit-hit'.",
            "Failed to start Beszel Hub Service.",
        ),
        "https://github.com/henrygd/beszel/pull/311",
    ),
    "systemd-power-monitor-start-limit": Event(
        "systemd",  # RestartSec=1s, the sixth restart refused
        (
            "power-monitor.service: Service RestartSec=1s expired, scheduling restart.",
            "power-monitor.service: Scheduled restart job, restart counter is at 6.",
            "Stopped Raspberry Pi Power Monitor.",
            "power-monitor.service: Start request repeated too quickly.",
            "power-monitor.service: Failed with result 'start-limit-hit'.",
            "Failed to start Raspberry Pi Power Monitor.",
        ),
        "https://github.com/David00/rpi-power-monitor/issues/39",
    ),
    "systemd-docker-start-limit": Event(
        "systemd",  # an older systemd: "Unit entered failed state", then the start limit
        (
            "docker.service: Unit entered failed state.",
            "docker.service: Failed with result 'start-limit-hit'.",
        ),
        "https://github.com/NVIDIA/nvidia-container-runtime/issues/45",
    ),
    "systemd-config-json-once": Event(
        "systemd",  # a path-triggered watcher started too often while a config was applied
        (
            "config-json.service: Start request repeated too quickly.",
            "config-json.service: Failed with result 'start-limit-hit'.",
            "Failed to start Config.json watcher service.",
        ),
        "https://github.com/balena-os/meta-balena/issues/1752",
    ),
    "logind-reboot-asked": Event(
        "shutdown",  # systemd-logind when a reboot is asked for (RebootWithFlags)
        ("The system will reboot now!", "System userspace is rebooting."),
        "https://github.com/systemd/systemd/issues/30917",
    ),
    "shutdown-apache-mariadb": Event(
        "shutdown",  # PID 1 stopping a web server and its database for a reboot
        (
            "Stopping The Apache Webserver...",
            "Stopped The Apache Webserver.",
            "Stopped target Network is Online.",
            "Stopped MariaDB database server.",
        ),
        "https://github.com/systemd/systemd/issues/18817",
    ),
    "pg-fast-shutdown-restart": Event(
        "postgres",  # PostgreSQL 16 stopped (fast) and started again
        (
            "LOG:  received fast shutdown request",
            "LOG:  aborting any active transactions",
            "FATAL:  terminating connection due to administrator command",
            "LOG:  shutting down",
            "LOG:  starting PostgreSQL 16.3 on x86_64-pc-linux-gnu, compiled by gcc (GCC) 8.5.0 "
            "20210514 (Red Hat 8.5.0-21), 64-bit",
            'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
        ),
        "https://github.com/CrunchyData/postgres-operator/issues/3798",
    ),
    "pg-crash-recovery": Event(
        "postgres",  # PostgreSQL after a power cut: interrupted, starting up, recovery
        (
            "LOG:  database system was interrupted; last known up at 2017-10-30 05:56:04 UTC",
            "FATAL:  the database system is starting up",
            "LOG:  database system was not properly shut down; automatic recovery in progress",
            "LOG:  invalid record length at 5/43CB66B8",
            "LOG:  redo is not required",
        ),
        "https://github.com/kubedb/docs/issues/125",
    ),
    "nginx-upstream-closed": Event(
        "nginx",  # a reverse proxy's error-log line (its date stamp is the corpus's own)
        (
            "[error] 184#184: *94 upstream prematurely closed connection while reading response "
            "header from upstream, client: 192.168.58.11, server: opensearch-dashboard.hi.local, "
            'request: "GET / HTTP/1.1", upstream: "http://10.244.3.84:5601/", host: '
            '"opensearch-dashboard.hi.local"',
        ),
        "https://github.com/kubernetes/ingress-nginx/issues/12285",
        pids=("94",),
    ),
    # ------------------------------------------------------------------ held-out-8 (round 9)
    # Added with corpus/held_out_8.py, by a helper that changed no rule: reports no other half
    # cites. Lines are the reporters' own; held_out_8.py adds a syslog prefix (``systemd[1]: ``,
    # ``postgres[N]: ``, ``chronyd[N]: ``) where a line lacks one, as syslog writes it.
    "oom-invoked-dd-sidecar-6x": Event(
        "oom",  # 6.1 on GKE: an init/sidecar container's dd, oom_score_adj 936 (a small request)
        (
            "dd invoked oom-killer: gfp_mask=0x101cca(GFP_HIGHUSER_MOVABLE|__GFP_WRITE), order=0, "
            "oom_score_adj=936",
            "CPU: 1 PID: 3656524 Comm: dd Not tainted 6.1.100+ #1",
            "Hardware name: Google Google Compute Engine/Google Compute Engine, BIOS Google "
            "09/13/2024",
        ),
        "https://github.com/open-telemetry/opentelemetry-operator/issues/3479",
        pids=("3656524",),
    ),
    "oom-constraint-memcg-containerd": Event(
        "oom",  # the one-line summary newer kernels log per kill (cgroup v2, cri-containerd)
        (
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-"
            "ec9ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e02fe9252985e084a95.scope,"
            "mems_allowed=0-1,oom_memcg=/lxc.payload....-lxc/kubepods.slice/kubepods-burstable."
            "slice/kubepods-burstable-podeded8c65_6e8e_4c6e_a889_3e427565c740.slice,task_memcg=/"
            "lxc.payload.ny2g2r5hh3-lxc/kubepods.slice/kubepods-burstable.slice/kubepods-"
            "burstable-podeded8c65_6e8e_4c6e_a889_3e427565c740.slice/cri-containerd-"
            "ec9ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e02fe9252985e084a95.scope,"
            "task=pt_main_thread,pid=461754,uid=0",
        ),
        "https://github.com/leptonai/gpud/pull/70",
        pids=("461754",),
    ),
    "oom-memcg-v1-bash-limit": Event(
        "oom",  # cgroup v1 at its limit: the usage lines, then the kill (a copy job's shell)
        (
            "memory: usage 524288kB, limit 524288kB, failcnt 0",
            "memory+swap: usage 524288kB, limit 524288kB, failcnt 38",
            "Memory cgroup out of memory: Kill process 62685 (bash) score 0 or sacrifice child",
        ),
        "https://github.com/bluek8s/kubedirector/issues/356",
        pids=("62685",),
    ),
    "oom-memcg-haproxy-system-slice": Event(
        "oom",  # 5.4 (Ubuntu 20.04): haproxy killed in a system.slice limited to 512 MB
        (
            "Memory cgroup out of memory: Killed process 897 (haproxy) total-vm:71548kB, "
            "anon-rss:41156kB, file-rss:7324kB, shmem-rss:0kB, UID:0 pgtables:156kB "
            "oom_score_adj:0",
        ),
        "https://github.com/lework/kainstall/issues/19",
        pids=("897",),
    ),
    "pg-backend-killed-9-recovery": Event(
        "postgres",  # PostgreSQL 12/13 in a container: a backend SIGKILLed, crash recovery
        (
            "LOG:  server process (PID 24643) was terminated by signal 9: Killed",
            "LOG:  terminating any other active server processes",
            "WARNING:  terminating connection because of crash of another server process",
            "LOG:  all server processes terminated; reinitializing",
            "LOG:  database system was interrupted; last known up at 2021-11-26 16:51:16 UTC",
            "LOG:  database system was not properly shut down; automatic recovery in progress",
            "LOG:  redo is not required",
            "LOG:  database system is ready to accept connections",
        ),
        "https://github.com/sclorg/postgresql-container/issues/396",
        pids=("24643",),
    ),
    "pg-backend-killed-9-once": Event(
        "postgres",  # one backend killed while it ran a statement
        (
            "LOG:  server process (PID 315) was terminated by signal 9: Killed",
            "DETAIL:  Failed process was running: SET default_transaction_isolation TO DEFAULT",
            "LOG:  terminating any other active server processes",
            "WARNING:  terminating connection because of crash of another server process",
        ),
        "https://github.com/docker-library/postgres/issues/809",
    ),
    "panic-fatal-irq-reboot-3s": Event(
        "panic",  # a MIPS board: the end of the trace, the panic, the automatic reboot
        (
            "---[ end trace 828ce27336de833a ]---",
            "Kernel panic - not syncing: Fatal exception in interrupt",
            "Rebooting in 3 seconds..",
        ),
        "https://github.com/respeaker/get_started_with_respeaker/issues/38",
    ),
    "panic-fatal-irq-smp-stop": Event(
        "panic",  # 5.10 (RISC-V): the panic, then the other CPUs stopped
        (
            "---[ end trace 444a7ea4a902de8c ]---",
            "Kernel panic - not syncing: Fatal exception in interrupt",
            "SMP: stopping secondary CPUs",
        ),
        "https://github.com/starfive-tech/Fedora_on_StarFive/issues/5",
    ),
    "oops-pf-kswapd-5x": Event(
        "oops",  # 5.18: a page fault in kernel mode in kswapd0 (a file system module's bug)
        (
            "BUG: unable to handle page fault for address: 000000000000a954",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "PGD 0 P4D 0",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "CPU: 0 PID: 55 Comm: kswapd0 Tainted: G        W  OE     5.18.0+ #3",
        ),
        "https://github.com/koverstreet/bcachefs/issues/452",
    ),
    "oops-paging-request-4x": Event(
        "oops",  # 4.9 (Debian): the older wording, "unable to handle kernel paging request"
        (
            "BUG: unable to handle kernel paging request at ffff8e6645cbb000",
            "IP: [<ffffffffadcc11d0>] i2c_smbus_read_i2c_block_data+0x90/0xf0",
            "Oops: 0003 [#1] SMP",
        ),
        "https://github.com/opencomputeproject/oom/issues/10",
    ),
    "oops-ppc64-bad-area": Event(
        "oops",  # POWER (ppc64le, 4.15 Ubuntu): no "BUG:", an "Oops: Kernel access of bad area"
        (
            "Unable to handle kernel paging request for data at address 0x00000000",
            "Faulting instruction address: 0xc000000000353484",
            "Oops: Kernel access of bad area, sig: 11 [#1]",
            "LE SMP NR_CPUS=2048 NUMA PowerNV",
            "CPU: 24 PID: 3409 Comm: sshd Not tainted 4.15.0-33-generic #36-Ubuntu",
        ),
        "https://github.com/open-power/skiboot/issues/194",
        pids=("3409",),
    ),
    "rcu-sched-kthread-starved": Event(
        "lockup",  # a starved guest: the RCU stall report, before the soft lockups
        (
            "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
            "rcu: rcu_sched kthread starved for 15004 jiffies! g15041 f0x2 RCU_GP_WAIT_FQS(5) "
            "->state=0x0 ->cpu=0",
            "rcu:     Unless rcu_sched kthread gets sufficient CPU time, OOM is now expected "
            "behavior.",
        ),
        "https://github.com/cloud-hypervisor/cloud-hypervisor/issues/4536",
    ),
    "lockup-systemd-hostnam-23s": Event(
        "lockup",  # the same guest's soft lockups (a truncated comm, as the kernel prints it)
        ("watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [systemd-hostnam:642]",),
        "https://github.com/cloud-hypervisor/cloud-hypervisor/issues/4536",
        pids=("642",),
    ),
    "lockup-rtcwake-climbing": Event(
        "lockup",  # one CPU stuck for minutes: the same task reported again, seconds climbing
        (
            "watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 71s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 104s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 130s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 160s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 186s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 220s! [rtcwake:72543]",
            "watchdog: BUG: soft lockup - CPU#1 stuck for 246s! [rtcwake:72543]",
        ),
        "https://github.com/thesofproject/linux/issues/5008",
        pids=("72543",),
    ),
    "rcu-preempt-self-detected-6x": Event(
        "lockup",  # 6.18 (NixOS guest): an RCU stall alone, no "soft lockup" line
        (
            "rcu: INFO: rcu_preempt self-detected stall on CPU",
            "rcu:         0-....: (1 GPs behind) idle=3514/0/0x3 softirq=671080/671080 fqs=3762",
            "rcu:         (t=21002 jiffies g=1292137 q=85 ncpus=2)",
            "CPU: 0 UID: 0 PID: 0 Comm: swapper/0 Not tainted 6.18.33 #1-NixOS PREEMPT(lazy) ",
        ),
        "https://github.com/oxidecomputer/propolis/issues/1153",
    ),
    "lockup-nmi-kopald-ppc64": Event(
        "lockup",  # POWER: the NMI watchdog's soft lockup and the RCU self-detected stall
        (
            "NMI watchdog: BUG: soft lockup - CPU#113 stuck for 22s! [kopald:854]",
            "INFO: rcu_sched self-detected stall on CPU",
        ),
        "https://github.com/open-power/skiboot/issues/136",
        pids=("854",),
    ),
    "hung-kworker-xfs-122s": Event(
        "hung",  # 5.10 (NixOS): a kworker of XFS's log blocked, "122 seconds", Tainted line
        (
            "INFO: task kworker/15:1:181 blocked for more than 122 seconds.",
            "      Tainted: P           O      5.10.76 #1-NixOS",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "task:kworker/15:1    state:D stack:    0 pid:  181 ppid:     2 flags:0x00004000",
            "Workqueue: xfs-sync/dm-1 xfs_log_worker [xfs]",
        ),
        "https://github.com/NixOS/nixpkgs/issues/144787",
        pids=("181",),
    ),
    "hung-manager-xfs-fsync": Event(
        "hung",  # 3.10 (RHEL 7 guest): a process blocked in fsync on XFS, the old D-state line
        (
            "INFO: task manager:26933 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "manager         D ffff9d6fbe7b4100     0 26933  25818 0x00000000",
        ),
        "https://github.com/openshift/os/issues/376",
        pids=("26933",),
    ),
    "hung-kworker-u48-6x": Event(
        "hung",  # 6.8 (Ubuntu 24.04 guest): as rsyslog's RFC 3339 kern.log holds it
        (
            "INFO: task kworker/u48:7:1511 blocked for more than 122 seconds.",
            "      Tainted: P           OE      6.8.0-111-generic #111-Ubuntu",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/cloud-hypervisor/cloud-hypervisor/issues/8284",
    ),
    "traps-node-gp-after-update": Event(
        "segfault",  # node crashing in a loop after an application update: "traps:" wording
        ("traps: node[69004] general protection ip:3c33a1ed5408 sp:7fb3e7275198 error:0",),
        "https://github.com/RocketChat/Rocket.Chat/issues/10644",
        pids=("69004",),
    ),
    "segv-node-no-library": Event(
        "segfault",  # a segfault line with no "in <library>" part (JIT code)
        ("node[4924]: segfault at 100000007 ip 00003203549d5408 sp 00007f83983f0828 error 4",),
        "https://github.com/RocketChat/Rocket.Chat/issues/10067",
        pids=("4924",),
    ),
    "trap-invalid-opcode-node": Event(
        "segfault",  # an invalid-opcode trap of node, once
        (
            "traps: node[9573] trap invalid opcode ip:16cdea9 sp:7ffcc78c3aa8 error:0 in "
            "node[400000+1e96000]",
        ),
        "https://github.com/nodejs/help/issues/2597",
    ),
    "systemd-dependency-exec-203": Event(
        "systemd",  # a unit whose dependency is not active, and whose binary is missing
        (
            "Dependency failed for Service Unit A@dummy.",
            "A@dummy.service: Job A@dummy.service/start failed with result 'dependency'.",
            "A@dummy.service: Main process exited, code=exited, status=203/EXEC",
            "A@dummy.service: Unit entered failed state.",
            "A@dummy.service: Failed with result 'exit-code'.",
        ),
        "https://github.com/systemd/systemd/issues/4756",
    ),
    "systemd-fwupd-refresh-exit-code": Event(
        "systemd",  # a timer's unit failing on every run (Ubuntu 20.04/22.04)
        (
            "fwupd-refresh.service: Main process exited, code=exited, status=1/FAILURE",
            "fwupd-refresh.service: Failed with result 'exit-code'.",
            "Failed to start Refresh fwupd metadata and update motd.",
        ),
        "https://github.com/fwupd/fwupd/issues/4567",
    ),
    "systemd-fwupd-refresh-fcos": Event(
        "systemd",  # the same on Fedora CoreOS, newer systemd: unit name in the last line
        (
            "fwupd-refresh.service: Main process exited, code=exited, status=1/FAILURE",
            "fwupd-refresh.service: Failed with result 'exit-code'.",
            "Failed to start fwupd-refresh.service - Refresh fwupd metadata and update motd.",
        ),
        "https://github.com/coreos/fedora-coreos-tracker/issues/2176",
    ),
    "chrony-clock-step": Event(
        "benign",  # chronyd finding the clock half an hour wrong and slewing it
        (
            "Selected source 81.19.96.148",
            "System clock wrong by 1721.913772 seconds, adjustment started",
        ),
        "https://github.com/NethServer/dev/issues/5062",
    ),
    "warning-clk-disabled-boot": Event(
        "benign",  # a driver's WARN at boot, asked about as "is it serious?"
        (
            "------------[ cut here ]------------",
            "gcc_uniphy1_port5_rx_clk already disabled",
            "WARNING: CPU: 2 PID: 1083 at drivers/clk/clk.c:1181 clk_core_disable+0xa4/0xac",
            "CPU: 2 PID: 1083 Comm: kmodloader Tainted: G           O       6.6.65 #0",
            "Hardware name: ZN M2 (DT)",
        ),
        "https://github.com/LiBwrt/LibWrt/issues/91",
    ),
    "warning-rcu-callbacks-4x": Event(
        "benign",  # a WARN with its backtrace header, the system running on
        (
            "------------[ cut here ]------------",
            "WARNING: CPU: 1 PID: 0 at kernel/rcu/tree.c:2733 rcu_process_callbacks+0x6f8/0x738()",
            "CPU: 1 PID: 0 Comm: swapper/1 Not tainted 4.4.26-v7+ #915",
            "Hardware name: BCM2709",
        ),
        "https://github.com/raspberrypi/linux/issues/1708",
    ),
    # ------------------------------------------------------------------ held-out-9 (round 10)
    # Added with corpus/held_out_9.py, by a helper that changed no rule: reports no other half
    # cites, and wordings no earlier half quotes (a Hard LOCKUP panic, scheduling while
    # atomic, ``kernel BUG at``, a hung task of 1228 s, an order-2 OOM, PostgreSQL refusing
    # clients, a clocksource switch). Lines are the reporters' own, less their stamps and
    # hosts (one event keeps some of a report's lines); held_out_9.py adds a syslog prefix.
    "lockup-hard-nmi-swapper-debian": Event(
        "lockup",  # 5.10 (Debian 11): the NMI watchdog's hard lockup, then the CPU line
        (
            "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1",
            "CPU: 1 PID: 0 Comm: swapper/1 Tainted: G OE 5.10.0-18-2-amd64 #1 Debian 5.10.140-1",
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/17363",
    ),
    "lockup-hard-nmi-cpu79": Event(
        "lockup",  # a many-core storage host: the hard lockup line alone (its modules list cut)
        ("NMI watchdog: Watchdog detected hard LOCKUP on cpu 79",),
        "https://github.com/Open-CAS/ocf/issues/408",
    ),
    "panic-hard-lockup-el7": Event(
        "panic",  # 3.10 (EL7) with nmi_watchdog panicking: the hard lockup is a panic
        (
            "Kernel panic - not syncing: Hard LOCKUP",
            "CPU: 0 PID: 282859 Comm: dockerd-current Kdump: loaded Tainted: G        W  OE "
            "K------------   3.10.0-862.mt20190308.130.el7.x86_64 #1",
            "Hardware name: Sugon I620-G20/60G16-US, BIOS 006 09/15/2018",
        ),
        "https://github.com/alibaba/diagnose-tools/issues/107",
    ),
    "bug-atomic-ksoftirqd": Event(
        "oops",  # 4.9 on an ARM SoC: an out-of-tree driver sleeping in softirq context
        (
            "BUG: scheduling while atomic: ksoftirqd/0/3/0x00010102",
            "CPU: 0 PID: 3 Comm: ksoftirqd/0 Tainted: P           O    4.9.84 #25",
            "Hardware name: SStar Soc (Flattened Device Tree)",
        ),
        "https://github.com/adrianomarto/soft_uart/issues/24",
    ),
    "bug-atomic-wpa-supplicant": Event(
        "oops",  # 4.1 (i.MX6): a Wi-Fi driver sleeping with preemption off, "frequently"
        (
            "BUG: scheduling while atomic: wpa_supplicant/903/0x00000202",
            "Preemption disabled at:[<  (null)>]   (null)",
            "CPU: 0 PID: 903 Comm: wpa_supplicant Tainted: G           O    "
            "4.1.36-fslc+g2fa70a9 #4",
        ),
        "https://github.com/linux4wilc/driver/issues/50",
        pids=("903",),
    ),
    "bug-at-iomap-invalid-opcode": Event(
        "oops",  # 7.1 (CachyOS): a BUG_ON in iomap, the newer "Oops: invalid opcode" wording
        (
            "------------[ cut here ]------------",
            "kernel BUG at fs/iomap/buffered-io.c:1061!",
            "Oops: invalid opcode: 0000 [#1] SMP NOPTI",
        ),
        "https://github.com/CachyOS/linux-cachyos/issues/841",
    ),
    "bug-at-mm-h-corefreqd": Event(
        "oops",  # 6.6: a BUG_ON in include/linux/mm.h hit by an out-of-tree module's mmap
        (
            "------------[ cut here ]------------",
            "kernel BUG at include/linux/mm.h:737!",
            "invalid opcode: 0000 [#1] SMP NOPTI",
            "CPU: 4 PID: 7186 Comm: corefreqd Tainted: G           OE      6.6.74-gentoo-x86_64 #1",
        ),
        "https://github.com/cyring/CoreFreq/issues/531",
        pids=("7186",),
    ),
    "gpf-non-canonical-device-plugin": Event(
        "oops",  # a GPU node: the general protection fault line as the report's title quotes it
        (
            "general protection fault, probably for non-canonical address 0x25b5f6bb1a24827e: "
            "0000 [#1] SMP NOPTI",
        ),
        "https://github.com/NVIDIA/k8s-device-plugin/issues/941",
    ),
    "segv-nft-null-ip-error14": Event(
        "segfault",  # nft jumping to address 0 (error 14), then the Code: line that cannot read
        (
            "nft[70030]: segfault at 0 ip 0000000000000000 sp 00007ffebf8c4618 error 14 likely "
            "on CPU 2 (core 2, socket 0)",
            "Code: Unable to access opcode bytes at 0xffffffffffffffd6.",
        ),
        "https://github.com/dyrnq/install-docker/issues/21",
        pids=("70030",),
    ),
    "segv-pineflash-libc": Event(
        "segfault",  # an AppImage on Ubuntu 24.04 crashing in libc at start, again and again
        (
            "pineflash[15246]: segfault at 1f ip 0000744df356f221 sp 00007fff090a0020 error 4 in "
            "libc.so.6[744df34ca000+15b000] likely on CPU 1 (core 0, socket 0)",
        ),
        "https://github.com/Spagett1/pineflash/issues/78",
        pids=("15246",),
    ),
    "segv-thread-nvservices-error6": Event(
        "segfault",  # a thread's name, not the program's, and a write fault (error 6)
        (
            "nvservices[1333]: segfault at 9 ip 00007fa7793e8d30 sp 00007f2435ffb7f0 error 6 in "
            "eden[7e8d30,7fa778d24000+13ba000] likely on CPU 6 (core 2, socket 0)",
        ),
        "https://github.com/eden-emulator/Releases/issues/16",
    ),
    "hung-python3-4x-ubuntu": Event(
        "hung",  # 4.4 (Ubuntu 14.04 HWE): a python3 worker in D state on remote paging
        (
            "INFO: task python3:5604 blocked for more than 120 seconds.",
            "      Tainted: G           OE   4.4.0-140-generic #166~14.04.1-Ubuntu",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "python3         D ffff880838017788     0  5604   3943 0x00000000",
        ),
        "https://github.com/SymbioticLab/Infiniswap/issues/25",
        pids=("5604",),
    ),
    "hung-update-mime-fsync": Event(
        "hung",  # 4.15 (Ubuntu 16.04 HWE): a package hook blocked in fdatasync on a busy disk
        (
            "INFO: task update-mime-dat:16610 blocked for more than 120 seconds.",
            "      Not tainted 4.15.0-33-generic #36~16.04.1-Ubuntu",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "update-mime-dat D    0 16610  16609 0x00000000",
        ),
        "https://github.com/nnstreamer/TAOS-CI/issues/249",
        pids=("16610", "16609"),
    ),
    "hung-kworker-1228s": Event(
        "hung",  # an io_uring worker reported after 1228 s (a long hung_task_timeout_secs)
        ("INFO: task kworker/u8:102:403349 blocked for more than 1228 seconds.",),
        "https://github.com/axboe/liburing/issues/448",
        pids=("403349",),
    ),
    "oom-java-global-reaper": Event(
        "oom",  # 5.x, a 64 GB JVM: the constraint summary, the kill, the reaper
        (
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
            "global_oom,task_memcg=/user.slice,task=java,pid=5765,uid=1000",
            "Out of memory: Killed process 5765 (java) total-vm:74499336kB, anon-rss:59801780kB, "
            "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:131084kB oom_score_adj:0",
            "oom_reaper: reaped process 5765 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
        ),
        "https://github.com/eclipse-jifa/jifa/issues/59",
        pids=("5765",),
    ),
    "oom-java-order2-invoked": Event(
        "oom",  # 4.4 (Ubuntu 16.04): Elasticsearch's JVM invoking the killer for an order-2 page
        (
            "java invoked oom-killer: gfp_mask=0x26142c0, order=2, oom_score_adj=0",
            "java cpuset=/ mems_allowed=0",
            "CPU: 5 PID: 22114 Comm: java Not tainted 4.4.0-59-generic #80-Ubuntu",
        ),
        "https://github.com/elastic/elasticsearch/issues/22788",
        pids=("22114",),
    ),
    "pg-too-many-clients": Event(
        "postgres",  # PostgreSQL 13 refusing a connection over max_connections
        ("FATAL:  sorry, too many clients already",),
        "https://github.com/nopSolutions/nopCommerce/issues/5779",
    ),
    "pg-reserved-slots": Event(
        "postgres",  # the slots kept for superusers are all that is left
        (
            "FATAL:  sorry, too many clients already",
            "FATAL:  remaining connection slots are reserved for non-replication superuser "
            "connections",
        ),
        "https://github.com/leafo/pgmoon/issues/47",
    ),
    "systemd-start-limit-coder": Event(
        "systemd",  # a server unit exiting at start (a bad OIDC issuer URL) until the limit
        (
            'Failed to start "Coder - Self-hosted developer workspaces on your infra".',
            "coder.service: Start request repeated too quickly.",
            "coder.service: Failed with result 'exit-code'.",
        ),
        "https://github.com/coder/coder/pull/9355",
    ),
    "clocksource-tsc-unstable-hpet": Event(
        "benign",  # the TSC declared unstable and the kernel switching to HPET, running on
        (
            "clocksource: timekeeping watchdog on CPU5: Marking clocksource 'tsc' as unstable "
            "because the skew is too large:",
            "clocksource:                       'hpet' wd_now: 5ca548fd wd_last: 5932c25f mask: "
            "ffffffff",
            "clocksource:                       'tsc' cs_now: bb8a0f7168a0d4 cs_last: "
            "bb8a0f234df0c3 mask: ffffffffffffffff",
            "tsc: Marking TSC unstable due to clocksource watchdog",
            "TSC found unstable after boot, most likely due to broken BIOS. Use 'tsc=unstable'.",
            "clocksource: Switched to clocksource hpet",
        ),
        "https://github.com/sozu-proxy/sozu/issues/500",
    ),
    # ----------------------------------------------------------------- held-out-10 (round 11)
    # Added with corpus/held_out_10.py, by a helper that changed no rule and never replayed it:
    # reports no other half cites, and wordings no earlier half quotes (a filesystem remounted
    # read-only, an ext4 error forcing a panic, NIC transmit timeouts and hardware unit hangs,
    # an NFS server not responding, systemd's 'watchdog' and 'core-dump' results, perf's
    # interrupt throttling). Lines are the reporters' own, less their stamps and hosts (one
    # event keeps some of a report's lines); held_out_10.py adds a syslog prefix where needed.
    "ext4-buddy-remount-ro-coreos": Event(
        "fs",  # 4.7 (CoreOS on Xen): an ext4 error aborts the journal, the fs goes read-only
        (
            "EXT4-fs error (device xvda9): ext4_discard_preallocations:4028: comm prometheus: "
            "Error loading buddy information for 989",
            "Aborting journal on device xvda9-8.",
            "EXT4-fs (xvda9): Remounting filesystem read-only",
        ),
        "https://github.com/coreos/bugs/issues/1811",
    ),
    "ext4-async-write-back-loop": Event(
        "fs",  # a full backing file under a loop device: write errors, then ext4's error
        (
            "loop: Write error at byte offset 673349632, length 4096.",
            "EXT4-fs error (device loop1): ext4_check_bdev_write_error:217: comm rs:main Q:Reg: "
            "Error while async write back metadata",
        ),
        "https://github.com/sonic-net/sonic-buildimage/issues/23146",
    ),
    "panic-ext4-forced-mmcblk": Event(
        "panic",  # 6.1 with errors=panic: a journal I/O error forces a panic
        (
            "JBD2: I/O error when updating journal superblock for mmcblk0p4-8.",
            "EXT4-fs error (device mmcblk0p4): ext4_journal_check_start:83: comm kworker/u8:3: "
            "Detected aborted journal",
            "EXT4-fs (mmcblk0p4): I/O error while writing superblock",
            "Kernel panic - not syncing: EXT4-fs (device mmcblk0p4): panic forced after error",
            "CPU: 1 PID: 52 Comm: kworker/u8:3 Not tainted 6.1.80-g9cd07cf52250-dirty-v8 #1",
        ),
        "https://github.com/raspberry-vanilla/android_local_manifest/issues/90",
    ),
    "panic-fatal-exception-f2fs": Event(
        "panic",  # 3.4 (ARM): an oops in f2fs's checkpoint, then the bare "Fatal exception"
        (
            "---[ end trace 66638eb161f79c30 ]---",
            "Kernel panic - not syncing: Fatal exception",
            "CPU0: stopping",
        ),
        "https://github.com/GalaticStryder/kernel_lge_msm8974/issues/9",
    ),
    "oops-page-fault-bcachefs": Event(
        "oops",  # 6.x: the "unable to handle page fault for address:" wording with #PF lines
        (
            "BUG: unable to handle page fault for address: 00000001003e000b",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "PGD 114bde067 P4D 114bde067 PUD 0",
            "Oops: 0000 [#1] PREEMPT SMP NOPTI",
        ),
        "https://github.com/koverstreet/bcachefs/issues/523",
    ),
    "oops-bug-ext4-inode-arm64": Event(
        "oops",  # 5.10-rt (arm64): a BUG_ON in ext4, "Internal error: Oops - BUG"
        (
            "------------[ cut here ]------------",
            "kernel BUG at fs/ext4/inode.c:547!",
            "Internal error: Oops - BUG: 0 [#1] PREEMPT_RT SMP",
            "CPU: 4 PID: 4174918 Comm: kworker/u24:6 Tainted: G           O      "
            "5.10.120-rt70-tegra #1",
        ),
        "https://github.com/ClangBuiltLinux/linux/issues/1979",
    ),
    "netdev-watchdog-ftgmac100": Event(
        "nic",  # 4.13 (ARM BMC): the transmit watchdog's warning, queue 0
        (
            "------------[ cut here ]------------",
            "WARNING: CPU: 0 PID: 7 at /kernel-source//net/sched/sch_generic.c:316 "
            "dev_watchdog+0x22c/0x244",
            "NETDEV WATCHDOG: eth0 (ftgmac100): transmit queue 0 timed out",
            "CPU: 0 PID: 7 Comm: ksoftirqd/0 Not tainted "
            "4.13.16-a1340b5c31182ee3e191ac745f8e591badaeb586 #1",
        ),
        "https://github.com/openbmc/openbmc/issues/3192",
    ),
    "netdev-watchdog-r8125": Event(
        "nic",  # a 6.x driver's newer wording: the device first, the CPU and the time in ms
        (
            "r8125 0000:22:04.0 eth4: NETDEV WATCHDOG: CPU: 3: transmit queue 0 timed out 5010 ms",
            "r8125 0000:22:04.0 eth4: rtl_rxtx_empty_cond == 0 (loop: 42, delay: 100).",
        ),
        "https://github.com/csrutil/OpenWrt-NIC-Drivers/issues/11",
    ),
    "netdev-watchdog-r8152": Event(
        "nic",  # 5.15 (a USB NIC): the watchdog line alone
        ("NETDEV WATCHDOG: eth1 (r8152): transmit queue 0 timed out",),
        "https://github.com/coolsnowwolf/lede/issues/10941",
    ),
    "e1000e-unit-hang-gislab": Event(
        "nic",  # e1000e's transmit hang report (its first lines)
        (
            "e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
            "  TDH                  <13>",
            "  TDT                  <88>",
            "  next_to_use          <88>",
            "  next_to_clean        <7>",
        ),
        "https://github.com/gislab-npo/gislab/issues/407",
    ),
    "e1000e-unit-hang-omr": Event(
        "nic",  # the same driver's report on a router, other ring positions
        (
            "e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
            "  TDH                  <81>",
            "  TDT                  <e2>",
            "  next_to_use          <e2>",
            "  next_to_clean        <73>",
        ),
        "https://github.com/Ysurac/openmptcprouter/issues/286",
    ),
    "nfs-not-responding-princeton": Event(
        "nfs",  # a hard NFS mount whose server stopped answering
        ("nfs: server td-mf-cl2.princeton.edu not responding, still trying",),
        "https://github.com/pulibrary/princeton_ansible/issues/6612",
    ),
    "nfs-timed-out-surface": Event(
        "nfs",  # a soft mount: the call times out (the application gets an I/O error)
        ("nfs: server thinkcentre not responding, timed out",),
        "https://github.com/linux-surface/linux-surface/issues/1494",
    ),
    "nfs-stall-ganesha": Event(
        "nfs",  # an NFS server stalling, then answering again
        ("nfs: server 100.73.159.36 not responding, still trying",),
        "https://github.com/nfs-ganesha/nfs-ganesha/issues/1295",
    ),
    "nfs-ok-ganesha": Event(
        "benign",  # the same report: the server answers again
        ("nfs: server 100.73.159.36 OK",),
        "https://github.com/nfs-ganesha/nfs-ganesha/issues/1295",
    ),
    "hrtimer-interrupt-ganesha": Event(
        "benign",  # the same report: a slow timer interrupt, logged once
        ("hrtimer: interrupt took 5692433 ns",),
        "https://github.com/nfs-ganesha/nfs-ganesha/issues/1295",
    ),
    "perf-interrupt-svxlink": Event(
        "benign",  # perf lowering its sample rate ("It's normal", the maintainer says)
        (
            "perf interrupt took too long (2555 > 2500), lowering "
            "kernel.perf_event_max_sample_rate to 50000",
        ),
        "https://github.com/sm0svx/svxlink/issues/309",
    ),
    "perf-interrupt-scoutfs": Event(
        "benign",  # the newer wording ("perf:"), filtered out of a test suite's dmesg checks
        (
            "perf: interrupt took too long (2507 > 2500), lowering "
            "kernel.perf_event_max_sample_rate to 79000",
        ),
        "https://github.com/versity/scoutfs/pull/210",
    ),
    "systemd-watchdog-conntrackd": Event(
        "systemd",  # a unit whose WatchdogSec= expired (systemd's own lines, debug ones cut)
        (
            "conntrackd.service: Watchdog timeout (limit 10s)!",
            "conntrackd.service: Unit entered failed state.",
            "conntrackd.service: Failed with result 'watchdog'.",
        ),
        "https://github.com/systemd/systemd/issues/1970",
    ),
    "systemd-coredump-mboxd": Event(
        "systemd",  # a daemon aborting (SIGABRT, a core dumped), restarted by systemd
        (
            "mboxd.service: Failed with result 'core-dump'.",
            "mboxd.service: Service hold-off time over, scheduling restart.",
        ),
        "https://github.com/openbmc/openbmc/issues/2080",
    ),
    "systemd-gave-up-mboxd": Event(
        "systemd",  # the same report: systemd gives up
        (
            "mboxd.service: Start request repeated too quickly.",
            "Failed to start Phosphor MBOX Daemon.",
        ),
        "https://github.com/openbmc/openbmc/issues/2080",
    ),
    "hung-txg-sync-zfs": Event(
        "hung",  # 5.4 (Ubuntu 18.04, ZFS): the pool's sync thread blocked for 120 s
        (
            "INFO: task txg_sync:9452 blocked for more than 120 seconds.",
            "      Tainted: P           O      5.4.0-60-generic #67~18.04.1-Ubuntu",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "txg_sync        D    0  9452      2 0x80004000",
        ),
        "https://github.com/openzfs/zfs/issues/11401",
        pids=("9452",),
    ),
    "segv-smtpd-libc217": Event(
        "segfault",  # a daemon's lookup process at a null pointer in glibc 2.17
        (
            "smtpd[6287]: segfault at 0 ip 0000668e2fd5dee1 sp 00007099f7ef7458 error 4 in "
            "libc-2.17.so[668e2fc10000+1a2000]",
        ),
        "https://github.com/OpenSMTPD/OpenSMTPD/issues/250",
        pids=("6287",),
    ),
    "segv-tuxdroid-null-ip": Event(
        "segfault",  # a server calling a null function pointer at start ("ip (null)")
        (
            "TuxDroidServer[3929]: segfault at 0 ip           (null) sp 00007ffb90543d18 "
            "error 14 in TuxDroidServer[400000+12000]",
        ),
        "https://github.com/joelmatteotti/tuxdroidserver/issues/9",
        pids=("3929",),
    ),
    "segv-haveged-at-stop": Event(
        "segfault",  # an entropy daemon crashing as it is stopped (fixed upstream since)
        (
            "haveged[1390]: segfault at 7f2475f4bff8 ip 00007f2475da0c1c sp 00007fffa6b52260 "
            "error 4 in libc-2.30.so[7f2475d3b000+146000]",
        ),
        "https://github.com/jirka-h/haveged/issues/46",
        pids=("1390",),
    ),
    # ----------------------------------------------------------------- held-out-11 (round 12)
    # Added with corpus/held_out_11.py, by a helper that changed no rule and never replayed it:
    # reports no other half cites, and wordings no earlier half quotes (NVMe command timeouts
    # and aborts, an NVMe-oF target lost, SATA link resets, block-layer I/O errors, the
    # connection-tracking table full, TCP memory exhausted, an expired client certificate);
    # systemd's start limit, the one-line OOM summary and the oom_reaper's line were quoted
    # before, here from other reports. Lines are the reporters' own, less their stamps and
    # hosts (one event keeps some of a report's lines).
    "nvme-timeout-aborting-vmware": Event(
        "disk",  # a guest's NVMe command timing out, then aborted (I/O hangs a bit meanwhile)
        ("nvme nvme0: I/O 34 QID 13 timeout, aborting",),
        "https://github.com/vmware/open-vm-tools/issues/579",
    ),
    "nvme-abort-status-clearlinux": Event(
        "disk",  # a 5.19 kernel aborting NVMe commands again and again
        (
            "nvme nvme0: I/O 14 QID 2 timeout, aborting",
            "nvme nvme0: Abort status: 0x0",
        ),
        "https://github.com/clearlinux/distribution/issues/2121",
    ),
    "nvme-completion-polled-visionfive": Event(
        "benign",  # a stall of some seconds; the command completes and work goes on
        ("nvme nvme0: I/O 210 QID 4 timeout, completion polled",),
        "https://github.com/starfive-tech/VisionFive2/issues/36",
    ),
    "nvme-polled-hung-kworker-nanopi": Event(
        "hung",  # a 6.1 arm64 kernel: polled NVMe completions, then a blocked kworker
        (
            "nvme nvme0: I/O 13 QID 0 timeout, completion polled",
            "INFO: task kworker/u8:4:167 blocked for more than 120 seconds.",
            "      Not tainted 6.1.0-12-arm64 #1 Debian 6.1.52-1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/inindev/nanopi-r5/issues/23",
        pids=("167",),
    ),
    "nvmeof-keep-alive-reconnect": Event(
        "disk",  # an NVMe over fabrics target unreachable: error recovery, reconnects
        (
            "nvme nvme4: queue 0: timeout request 0x0 type 4",
            "nvme nvme4: starting error recovery",
            "nvme nvme4: failed nvme_keep_alive_end_io error=10",
            "nvme nvme4: Reconnecting in 10 seconds...",
        ),
        "https://github.com/metal-stack/metal-images/pull/190",
    ),
    "ata-fpdma-timeout-reset": Event(
        "disk",  # a SATA command timing out, the link reset, the disk back
        (
            "ata1.00: exception Emask 0x0 SAct 0x1 SErr 0x0 action 0x6 frozen",
            "ata1.00: failed command: READ FPDMA QUEUED",
            "ata1.00: cmd 60/08:00:00:e1:59/00:00:a2:00:00/40 tag 0 ncq 4096 in",
            "ata1.00: status: { DRDY }",
            "ata1: hard resetting link",
            "ata1: SATA link up 6.0 Gbps (SStatus 133 SControl 300)",
            "ata1.00: configured for UDMA/133",
            "ata1: EH complete",
        ),
        "https://github.com/FastVPSEestiOu/storage-system-monitoring/issues/4",
    ),
    "print-req-error-sdc": Event(
        "disk",  # a 4.x kernel's block-layer read error (print_req_error wording)
        ("print_req_error: I/O error, dev sdc, sector 1098288304 flags 0",),
        "https://github.com/Requiem4Eternity/Appstream/issues/107",
    ),
    "blk-update-nvme1n1-read": Event(
        "disk",  # a 5.x kernel's block-layer read error (blk_update_request wording)
        (
            "blk_update_request: I/O error, dev nvme1n1, sector 823872 op 0x0:(READ) flags "
            "0x80700 phys_seg 1 prio class 0",
        ),
        "https://github.com/oxidecomputer/crucible/issues/408",
    ),
    "conntrack-full-kubernetes": Event(
        "net",  # the connection-tracking table full: new connections dropped
        ("nf_conntrack: table full, dropping packet",),
        "https://github.com/kubernetes/kubernetes/issues/71261",
    ),
    "conntrack-full-doubled-prefix": Event(
        "net",  # the same, as a kernel that prefixes the module name twice words it
        ("nf_conntrack: nf_conntrack: table full, dropping packet",),
        "https://github.com/canonical/hotsos/issues/101",
    ),
    "tcp-mem-tempesta": Event(
        "net",  # TCP buffers above tcp_mem's limit under many streams: sockets dropped
        ("TCP: out of memory -- consider tuning tcp_mem",),
        "https://github.com/tempesta-tech/tempesta/issues/1763",
    ),
    "tcp-mem-2i2c": Event(
        "net",  # the same wording on a hub's node during an incident (kubelet saw it ready)
        ("TCP: out of memory -- consider tuning tcp_mem",),
        "https://github.com/2i2c-org/infrastructure/issues/3299",
    ),
    "oom-global-python-autovod": Event(
        "oom",  # a 5.x+ global OOM kill, the one-line constraint summary then the kill
        (
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
            "global_oom,task_memcg=/init.scope,task=python,pid=7899,uid=0",
            "Out of memory: Killed process 7899 (python) total-vm:26,184,840kB, "
            "anon-rss:153,700,88kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:38964kB "
            "oom_score_adj:0",
        ),
        "https://github.com/0jc1/py-autovod/issues/7",
        pids=("7899",),
    ),
    "oom-reaper-python3-docker": Event(
        "oom",  # a kill and the oom_reaper's line after it
        (
            "Out of memory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:4288kB, "
            "file-rss:3028kB, shmem-rss:0kB",
            "oom_reaper: reaped process 15784 (python3), now anon-rss:0kB, file-rss:0kB, "
            "shmem-rss:0kB",
        ),
        "https://github.com/docker/for-linux/issues/1001",
        pids=("15784",),
    ),
    "hung-jbd2-dm2-tainted": Event(
        "hung",  # ext4's journal thread on a device-mapper volume, a tainted 4.5 kernel
        (
            "INFO: task jbd2/dm-2-8:22274 blocked for more than 120 seconds.",
            "      Tainted: P           OE   4.5.0-0.bpo.2-amd64 #1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/openzfs/zfs/issues/4774",
        pids=("22274",),
    ),
    "hung-promtail-121s": Event(
        "hung",  # a log shipper blocked in ext4 lookups for 121 s (5.10)
        (
            "INFO: task promtail:1699003 blocked for more than 121 seconds.",
            "      Not tainted 5.10.0-garden-cloud-amd64 #1 Debian 5.10.93-0gardenlinux1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/gardenlinux/gardenlinux/issues/945",
        pids=("1699003",),
    ),
    "systemd-start-limit-beszel": Event(
        "systemd",  # a unit restarted 5 times, then refused: 'start-limit-hit'
        (
            "beszel-hub.service: Scheduled restart job, restart counter is at 5.",
            "beszel-hub.service: Start request repeated too quickly.",
            "beszel-hub.service: Failed with result 'start-limit-hit'.",
            "Failed to start Beszel Hub Service.",
        ),
        "https://github.com/henrygd/beszel/pull/311",
    ),
    "systemd-start-limit-coraza": Event(
        "systemd",  # the same refusal, a unit with a description after its name
        (
            "coraza-spoa.service: Start request repeated too quickly.",
            "coraza-spoa.service: Failed with result 'start-limit-hit'.",
            "Failed to start coraza-spoa.service - Coraza WAF SPOA Daemon.",
        ),
        "https://github.com/corazawaf/coraza-spoa/pull/289",
    ),
    "systemd-exit-code-backoff": Event(
        "systemd",  # a unit with RestartSteps= and a long RestartMaxDelaySec=: each failure
        (
            "backup-emails.service: Main process exited, code=exited, status=1/FAILURE",
            "backup-emails.service: Failed with result 'exit-code'.",
        ),
        "https://github.com/systemd/systemd/issues/42912",
    ),
    "x509-expired-xdcc": Event(
        "app",  # a Go client's TLS error once a certificate has expired
        (
            "x509: certificate has expired or is not yet valid: current time "
            "2023-01-28T09:08:05+01:00 is after 2023-01-08T09:42:48Z",
        ),
        "https://github.com/ostafen/xdcc-cli/issues/4",
    ),
    # ----------------------------------------------------------------- held-out-12 (round 13)
    # Added with corpus/held_out_12.py, by a helper that changed no rule and never replayed it:
    # reports no other half cites (an ext4 journal aborted and the filesystem remounted
    # read-only, block-layer target and medium errors, a service killed by SIGKILL and one
    # dumping core after an upgrade, segfaults after an upgrade, an oops and a panic on a
    # fatal exception, soft lockups of a JVM, a hung application thread, the oom_reaper).
    # Lines are the reporters' own, less their stamps and hosts (an event may keep only some
    # of a report's lines, where the report wraps or elides the others).
    "segv-rspamd-after-upgrade": Event(
        "segfault",  # a mail filter crashing in glib right after a package upgrade
        (
            "rspamd[2969]: segfault at 69423088 ip 00007f426eddd109 sp 00007fff291625f0 "
            "error 4 in libglib-2.0.so.0.2800.8[7f426edc6000+115000]",
        ),
        "https://github.com/rspamd/rspamd/issues/1956",
        pids=("2969",),
    ),
    "segv-turnserver-libc": Event(
        "segfault",  # a TURN server crashing in libc now and then
        (
            "turnserver[24802]: segfault at c0 ip 00000034ede44009 sp 00007f94fe4643f0 "
            "error 4 in libc-2.12.so[34ede00000+18a000]",
        ),
        "https://github.com/coturn/coturn/issues/403",
        pids=("24802",),
    ),
    "systemd-core-dump-mympd": Event(
        "systemd",  # a daemon dumping core at start after an upgrade
        (
            "mympd.service: Main process exited, code=dumped, status=11/SEGV",
            "mympd.service: Failed with result 'core-dump'.",
        ),
        "https://github.com/jcorporation/myMPD/issues/1121",
    ),
    "systemd-kill9-electrumx": Event(
        "systemd",  # a service's main process killed with SIGKILL
        (
            "electrumx.service: Main process exited, code=killed, status=9/KILL",
            "electrumx.service: Unit entered failed state.",
            "electrumx.service: Failed with result 'signal'.",
        ),
        "https://github.com/kyuupichan/electrumx/issues/42",
    ),
    "oops-null-deref-zap-leaf": Event(
        "oops",  # a 5.17 kernel dereferencing NULL in a filesystem module's worker
        (
            "BUG: kernel NULL pointer dereference, address: 0000000000000020",
            "#PF: supervisor read access in kernel mode",
            "#PF: error_code(0x0000) - not-present page",
            "Oops: 0000 [#1] PREEMPT SMP PTI",
        ),
        "https://github.com/openzfs/zfs/issues/13687",
    ),
    "panic-fatal-exception-acrn": Event(
        "panic",  # a panic on a fatal exception, the kernel rebooting itself 10 s later
        (
            "Kernel panic - not syncing: Fatal exception",
            "Kernel Offset: 0x9000000 from 0xffffffff81000000 (relocation range: "
            "0xffffffff80000000-0xffffffffbfffffff)",
            "Rebooting in 10 seconds..",
        ),
        "https://github.com/projectacrn/acrn-hypervisor/issues/4129",
    ),
    "soft-lockup-java-primihub": Event(
        "lockup",  # a JVM's threads stuck on several CPUs of a virtual machine
        (
            "NMI watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [java:102195]",
            "NMI watchdog: BUG: soft lockup - CPU#1 stuck for 33s! [java:81590]",
        ),
        "https://github.com/primihub/primihub/issues/387",
        pids=("102195", "81590"),
    ),
    "hung-fwgthread-open-cas": Event(
        "hung",  # an application thread blocked on a journal commit during heavy I/O
        (
            "INFO: task FwgThread OpFor:15341 blocked for more than 120 seconds.",
            "      Tainted: G           OE    --------- -  - 4.18.0-240.el8.x86_64 #1",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        ),
        "https://github.com/Open-CAS/open-cas-linux/issues/746",
        pids=("15341",),
    ),
    "oom-reaper-lgraph": Event(
        "oom",  # the oom_reaper's line after a graph database was killed
        (
            "oom_reaper: reaped process 68768 (lgraph_server), now anon-rss:0kB, "
            "file-rss:0kB, shmem-rss:0kB",
        ),
        "https://github.com/TuGraph-family/tugraph-db/issues/977",
        pids=("68768",),
    ),
    "ext4-aborted-journal-rsync": Event(
        "disk",  # a USB disk's journal aborted under rsync: the filesystem goes read-only
        (
            "EXT4-fs error (device sdd1): ext4_journal_check_start:83: comm rsync: Detected "
            "aborted journal",
            "EXT4-fs (sdd1): Remounting filesystem read-only",
        ),
        "https://github.com/bit-team/backintime/issues/2568",
    ),
    "ext4-superblock-io-cortx": Event(
        "disk",  # a device-mapper volume's superblock write failed: read-only
        (
            "EXT4-fs (dm-25): previous I/O error to superblock detected",
            "EXT4-fs error (device dm-25): ext4_journal_check_start:56: Detected aborted journal",
            "EXT4-fs (dm-25): Remounting filesystem read-only",
        ),
        "https://github.com/Seagate/cortx-hare/issues/852",
    ),
    "ext4-aborted-journal-emmc": Event(
        "disk",  # an eMMC's journal aborted after a controller recovery: read-only root
        (
            "EXT4-fs error (device mmcblk0p2): ext4_journal_check_start:83: comm "
            "systemd-journal: Detected aborted journal",
            "EXT4-fs (mmcblk0p2): Remounting filesystem read-only",
        ),
        "https://github.com/Joshua-Riek/ubuntu-rockchip/issues/1060",
    ),
    "blk-critical-target-lede": Event(
        "disk",  # a disk refusing a write, the journal aborted
        (
            "blk_update_request: critical target error, dev sdb, sector 629659920 op "
            "0x1:(WRITE) flags 0x800 phys_seg 8 prio class 0",
            "Aborting journal on device sdb1-8.",
        ),
        "https://github.com/coolsnowwolf/lede/issues/6147",
    ),
    "blk-medium-error-longhorn": Event(
        "disk",  # unreadable sectors under a replicated volume
        (
            "blk_update_request: critical medium error, dev sdb, sector 0",
            "Buffer I/O error on dev sdb, logical block 0, lost async page write",
        ),
        "https://github.com/longhorn/longhorn/issues/193",
    ),
    "ext4-journal-aborted-dm4": Event(
        "disk",  # a container host's volume: journal aborted, remounted read-only
        (
            "Aborting journal on device dm-4-8.",
            "EXT4-fs (dm-4): Remounting filesystem read-only",
        ),
        "https://github.com/kubernetes/kubernetes/issues/12905",
    ),
}
"""Event id -> the quoted event."""
