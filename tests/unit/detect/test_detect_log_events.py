"""Log presets count events, tested on real captured lines, each with its public source.

Every line below was captured on a real machine and quoted in the public report cited next to
it (timestamps and hostnames as quoted). Each case says how many events the lines are and how
many of them the preset takes; the noise tests run the presets over real Loghub samples that
contain no such failure.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.config import models
from rollsafe.detect.probes import logevents, logs
from rollsafe.domain import errors
from support import corpus_modules

_SAMPLES = Path(os.environ.get("ROLLSAFE_LOGHUB_DIR", "/work/shared/data/logs"))


def _count(preset: str, lines: list[str]) -> logevents.Found:
    counter = logevents.Counter([logevents.PRESETS[preset]])
    counter.feed(lines)
    return counter.take()


# systemd-oomd kills a test unit (systemd v249's test suite), as quoted in
# https://github.com/systemd/systemd/pull/20690: the oom and systemd_failure cases below.
OOMD_TESTBLOAT = [
    "Sep 10 14:59:49 image systemd-oomd[34]: Memory pressure for /testsuite.slice/"
    "testsuite-55.slice/testsuite-55-workload.slice is 64.15% > 1.00% for > 30s with "
    "reclaim activity",
    "Sep 10 14:59:49 image systemd-oomd[34]: oomd attempting to kill 63 with KILL",
    "Sep 10 14:59:49 image systemd-oomd[34]: oomd attempting to kill 66 with KILL",
    # journalctl cut the line at the terminal's width ("be>"), as quoted
    "Sep 10 14:59:49 image systemd-oomd[34]: Killed /testsuite.slice/testsuite-55.slice/"
    "testsuite-55-workload.slice/testsuite-55-testbloat.service due to memory pressure "
    "for /testsuite.slice/testsuite-55.slice/testsuite-55-workload.slice be>",
    "Sep 10 14:59:49 image systemd[1]: testsuite-55-testbloat.service: systemd-oomd "
    "killed 2 process(es) in this unit.",
    "Sep 10 14:59:49 image systemd[1]: testsuite-55-testbloat.service: Main process "
    "exited, code=killed, status=9/KILL",
    "Sep 10 14:59:49 image systemd[1]: testsuite-55-testbloat.service: Failed with result "
    "'signal'.",
]

# (preset, source, lines, events, matching lines)
CASES: list[tuple[str, str, list[str], int, int]] = [
    # ------------------------------------------------------------------ oom
    (
        "oom",  # kernel 3.x/4.x wording: "Kill process ... or sacrifice child" + "Killed process"
        "https://github.com/alibaba-archive/alicloud-duplicity/issues/3",
        [
            "[35881895.791331] Out of memory: Kill process 21518 (python2) score 752 or "
            "sacrifice child",
            "[35881895.792304] Killed process 21518 (python2) total-vm:13345928kB, "
            "anon-rss:12721928kB, file-rss:4kB",
        ],
        1,
        2,
    ),
    (
        "oom",  # kernel 5.x: constraint line, "Out of memory: Killed process", oom_reaper, and
        # the next OOM's first line
        "https://github.com/ColinIanKing/stress-ng/issues/177",
        [
            "[44178.537749] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
            "mems_allowed=0,global_oom,task_memcg=/user.slice/user-1000.slice/session-1.scope,"
            "task=stress-ng,pid=1811,uid=1000",
            "[44178.537897] Out of memory: Killed process 1811 (stress-ng) total-vm:43240kB, "
            "anon-rss:0kB, file-rss:64kB, shmem-rss:0kB, UID:1000 pgtables:104kB "
            "oom_score_adj:1000",
            "[44178.540183] oom_reaper: reaped process 1811 (stress-ng), now anon-rss:0kB, "
            "file-rss:0kB, shmem-rss:0kB",
            "[44178.645848] systemd-journal invoked oom-killer: "
            "gfp_mask=0x1100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=-250",
        ],
        2,
        4,
    ),
    (
        "oom",  # cgroup v2 memory cgroup OOM (Kubernetes pod)
        "https://github.com/leptonai/gpud/pull/70",
        [
            "Aug 30 06:58:55.050705 ... kernel: oom-kill:constraint=CONSTRAINT_MEMCG,"
            "nodemask=(null),cpuset=cri-containerd-ec9ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e0"
            "2fe9252985e084a95.scope,mems_allowed=0-1,oom_memcg=/lxc.payload....-lxc/kubepods.slice"
            "/kubepods-burstable.slice/kubepods-burstable-podeded8c65_6e8e_4c6e_a889_3e427565c740"
            ".slice,task_memcg=/lxc.payload.ny2g2r5hh3-lxc/kubepods.slice/kubepods-burstable.slice"
            "/kubepods-burstable-podeded8c65_6e8e_4c6e_a889_3e427565c740.slice/cri-containerd-ec9"
            "ee26695deb4cc72bc665efff1cf3a03fdfb12f1303e02fe9252985e084a95.scope,"
            "task=pt_main_thread,pid=461754,uid=0",
        ],
        1,
        1,
    ),
    (
        "oom",  # memory cgroup OOM, newer wording, then the reaper and the next OOM
        "https://github.com/reportportal/kubernetes/issues/203",
        [
            "[ 7063.247407] Memory cgroup out of memory: Killed process 63214 (uwsgi) "
            "total-vm:3149468kB, anon-rss:164992kB, file-rss:52176kB, shmem-rss:92kB, UID:0 "
            "pgtables:1372kB oom_score_adj:986",
            "[ 7063.263325] oom_reaper: reaped process 63214 (uwsgi), now anon-rss:0kB, "
            "file-rss:0kB, shmem-rss:92kB",
            "[ 7093.543707] uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, "
            "oom_score_adj=986",
            "[ 7093.543711] CPU: 4 PID: 63635 Comm: uwsgi Not tainted 5.4.0-77-generic #86-Ubuntu",
        ],
        2,
        3,
    ),
    (
        "oom",  # cgroup v1, "sacrifice child": the killed pid differs from the chosen one
        "https://github.com/apache/doris/issues/3525",
        [
            "May  8 14:05:27 doris-03 kernel: Memory cgroup out of memory: Kill process 24984 "
            "(palo_be) score 968 or sacrifice child",
            "May  8 14:05:27 doris-03 kernel: Killed process 18177 (palo_be), UID 0, "
            "total-vm:70347780kB, anon-rss:45563572kB, file-rss:0kB, shmem-rss:0kB",
        ],
        1,
        2,
    ),
    (
        "oom",  # the same on a Kubernetes node, with the next OOM starting
        "https://github.com/kubernetes/kubernetes/issues/56891",
        [
            "[Thu Dec  7 00:05:15 2017] Memory cgroup out of memory: Kill process 24572 (java) "
            "score 0 or sacrifice child",
            "[Thu Dec  7 00:05:15 2017] Killed process 28438 (java) total-vm:20255636kB, "
            "anon-rss:466160kB, file-rss:13684kB",
            "[Thu Dec  7 00:13:22 2017] java invoked oom-killer: gfp_mask=0xd0, order=0, "
            "oom_score_adj=-998",
        ],
        2,
        3,
    ),
    (
        "oom",  # cgroup v1 report line, then kill pairs of a cgroup killing task after task
        "https://github.com/linux-test-project/ltp/issues/1080",
        [
            "Aug 17 06:27:33 hgzmm3cs239 kernel: Task in /13 killed as a result of limit of /13",
            "Aug 17 06:27:33 hgzmm3cs239 kernel: memory: usage 4kB, limit 4kB, failcnt 8",
            "Aug 16 20:29:54 hgzmm3cs239 kernel: Memory cgroup out of memory: Kill process 42453 "
            "(memcg_test_1) score 0 or sacrifice child",
            "Aug 16 20:29:54 hgzmm3cs239 kernel: Killed process 42453 (memcg_test_1), UID 0, "
            "total-vm:7296kB, anon-rss:96kB, file-rss:164kB, shmem-rss:0kB",
            "Aug 16 20:29:54 hgzmm3cs239 kernel: Memory cgroup out of memory: Kill process 42474 "
            "(memcg_test_1) score 0 or sacrifice child",
            "Aug 16 20:29:54 hgzmm3cs239 kernel: Killed process 42474 (memcg_test_1), UID 0, "
            "total-vm:7296kB, anon-rss:96kB, file-rss:0kB, shmem-rss:0kB",
        ],
        # The first line begins an event that the first kill pair then completes (it had no
        # victim yet); the second pair is a second kill.
        2,
        5,
    ),
    (
        "oom",  # 2.6.20 wording, lower case "kill process ... or a child" (LKML, 2006-12-28,
        # "Re: OOPS - KVM in 2.6.20-rc2", lines run together as quoted)
        "https://lore.kernel.org/lkml/45939008.106@qumranet.com/",
        [
            "Killed process 19271 (trashapplet)Out of memory: kill process 12475 (qemu) score "
            "7899 or a childOut of memory: kill process 12475 (qemu) score 7899 or a childKilled "
            "process 12475 (qemu)Killed process 12475 (qemu)",
        ],
        1,
        1,
    ),
    (
        "oom",
        "https://github.com/harvester/harvester/issues/2419",
        [
            "Jun 23 10:10:34 hv kernel: CPU 2/KVM invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), "
            "order=0, oom_score_adj=872",
        ],
        1,
        1,
    ),
    # systemd-oomd (userspace): its notice per kill, and PID 1's count for the unit. The
    # notices' formats are systemd's own, src/oom/oomd-manager.c (log_notice "Killed %s due
    # to memory pressure for %s being ...", "Killed %s due to memory used (...) / total (...)
    # and swap used ...", and in newer releases "Marked %s for killing due to ...").
    (
        "oom",  # v249 test run: pressure, per-pid debug lines, the kill, PID 1, the unit's end
        "https://github.com/systemd/systemd/pull/20690",
        OOMD_TESTBLOAT,
        1,
        2,
    ),
    (
        "oom",  # newer wording, "Marked ... for killing", after the survey of candidates
        "https://github.com/systemd/systemd/pull/42321",
        [
            "[   77.740597] systemd-oomd[659]: Memory pressure for /system.slice is 85.03% > "
            "80.00% for > 2s with reclaim activity",
            "[   77.749125] systemd-oomd[659]: Considered 19 cgroups for killing, top "
            "candidates were:",
            "[   77.749128] systemd-oomd[659]:         Path: /system.slice/"
            "systemd-journald.service",
            "[   77.749134] systemd-oomd[659]:                 Current Memory Usage: 55.5M",
            "[   77.749597] systemd-oomd[659]: oomd attempting to kill 407 with KILL",
            "[   77.749670] systemd-oomd[659]: Marked /system.slice/systemd-journald.service for "
            "killing due to memory pressure for /system.slice being 85.03% > 80.00% for > 2s "
            "with reclaim activity",
            "[   77.752252] systemd[1]: systemd-journald.service: systemd-oomd killed 1 "
            "process(es) in this unit.",
        ],
        1,
        2,
    ),
    (
        "oom",  # the swap rule, systemd 250 (quoted up to where the stored copy of the report
        # cuts it)
        "https://github.com/systemd/systemd/issues/24185",
        [
            "[2406674.127782] systemd-oomd[2261673]: Killed /system.slice/httpd.service due to "
            "memory used (32305733632) / total (33046",
        ],
        1,
        1,
    ),
    # ------------------------------------------------------------------ kernel_panic
    (
        "kernel_panic",  # kernel 6.1 NULL dereference oops: one report, several lines
        "https://github.com/sonic-net/sonic-buildimage/issues/22166",
        [
            "[  209.639283] BUG: kernel NULL pointer dereference, address: 00000000000002d0",
            "[  209.653669] #PF: supervisor read access in kernel mode",
            "[  209.659441] #PF: error_code(0x0000) - not-present page",
            "[  209.665212] PGD 2ba1a5067 P4D 0",
            "[  209.668841] Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "[  209.673735] CPU: 7 PID: 15623 Comm: cat Tainted: GF          OE      "
            "6.1.0-22-2-amd64 #1  Debian 6.1.94-1",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # older wording "BUG: unable to handle kernel NULL pointer dereference"
        "https://github.com/dolohow/uksm/issues/18",
        [
            "[494558.706128] BUG: unable to handle kernel NULL pointer dereference at"
            "           (null)",
            "[494558.706135] IP: [<ffffffff811c5050>] scan_vma_one_page+0x1a0/0x1430",
            "[494558.706140] PGD 11b5f34067 PUD 11269f4067 PMD 0 ",
            "[494558.706144] Oops: 0000 [#1] SMP ",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # x86 since 4.17: "BUG: unable to handle page fault for address:"
        "https://github.com/openzfs/zfs/issues/12654",
        [
            "vas. 19 10:20:12 neworld-home kernel: BUG: unable to handle page fault for address: "
            "000027c000000000",
            "vas. 19 10:20:12 neworld-home kernel: #PF: supervisor read access in kernel mode",
            "vas. 19 10:20:12 neworld-home kernel: #PF: error_code(0x0000) - not-present page",
            "vas. 19 10:20:12 neworld-home kernel: PGD 0 P4D 0",
            "vas. 19 10:20:12 neworld-home kernel: Oops: 0000 [#1] PREEMPT SMP NOPTI",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # a second oops of the same boot ([#2]) is its own event
        "https://github.com/koverstreet/bcachefs/issues/493",
        [
            "2023-01-28T13:02:16.334241+01:00   [    6.059589] note: ksoftirqd/3[32] exited with "
            "preempt_count 1",
            "2023-01-28T13:02:16.434346+01:00   [    6.159190] BUG: unable to handle page fault "
            "for address: ffff8a08a90ab128",
            "2023-01-28T13:02:16.434346+01:00   [    6.159891] Oops: 0000 [#2] PREEMPT SMP "
            "DEBUG_PAGEALLOC",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",
        "https://github.com/NVIDIA/k8s-device-plugin/issues/941",
        [
            "general protection fault, probably for non-canonical address 0x25b5f6bb1a24827e: "
            "0000 [#1] SMP NOPTI",
        ],
        1,
        1,
    ),
    (
        "kernel_panic",
        "https://github.com/jovanbulck/sgx-step/issues/6",
        ["[  126.282402] general protection fault: 0031 [#1] SMP PTI"],
        1,
        1,
    ),
    (
        "kernel_panic",  # kernel BUG at mm/...: invalid opcode oops
        "https://github.com/dolohow/uksm/issues/44",
        [
            "[Mar 8 17:07] ------------[ cut here ]------------",
            "[  +0.000005] kernel BUG at mm/uksm.c:3328!",
            "[  +0.000010] invalid opcode: 0000 [#1] SMP PTI",
            "[  +0.000005] CPU: 3 PID: 144 Comm: uksmd Tainted: G           OE     "
            "5.4.5-mc0-easy #1",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # kernel 7.x prefixes the oops kind with "Oops:"
        "https://github.com/CachyOS/linux-cachyos/issues/841",
        [
            "[ 8638.470708] ------------[ cut here ]------------",
            "[ 8638.470712] kernel BUG at fs/iomap/buffered-io.c:1061!",
            "[ 8638.470722] Oops: invalid opcode: 0000 [#1] SMP NOPTI",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # ARM: "Unable to handle kernel ..." and "Internal error: Oops: 17 [#2]"
        "https://github.com/derf/feh/issues/574",
        [
            "[135992.726639] Unable to handle kernel NULL pointer dereference at virtual address "
            "0000000c",
            "[135992.726663] pgd = 6f458410",
            "[135992.726715] Internal error: Oops: 17 [#2] ARM",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",  # a panic and its end marker are one event
        "https://github.com/runninglinuxkernel/runninglinuxkernel_5.15/issues/4",
        [
            "[    1.858473] Kernel panic - not syncing: No working init found.  Try passing init= "
            "option to kernel. See Linux Documentation/admin-guide/init.rst for guidance.",
            "[    1.860204] CPU: 1 PID: 1 Comm: swapper/0 Not tainted 5.15.0 #1",
            "[    1.862958] SMP: stopping secondary CPUs",
            "[    1.864522] ---[ end Kernel panic - not syncing: No working init found.  Try "
            "passing init= option to kernel. See Linux Documentation/admin-guide/init.rst for "
            "guidance. ]---",
        ],
        1,
        2,
    ),
    (
        "kernel_panic",
        "https://github.com/alibaba/diagnose-tools/issues/107",
        ["  11745 [46223316.649832] Kernel panic - not syncing: Hard LOCKUP"],
        1,
        1,
    ),
    # ------------------------------------------------------------------ kernel_bug
    (
        "kernel_bug",  # 3.10: a protocol stack's module sleeping in softirq context
        "https://github.com/IRATI/stack/issues/140",
        [
            "[  295.811418] BUG: scheduling while atomic: swapper/0/0/0x10000100",
            "[  295.811418] CPU: 0 PID: 0 Comm: swapper/0 Tainted: G        W    3.10.0 #43",
            "[  295.811418] Hardware name: innotek GmbH VirtualBox, BIOS VirtualBox 12/01/2006",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # 4.4-rt on an ARM board, with the preempt-debug line
        "https://github.com/rockchip-linux/kernel/issues/181",
        [
            "[3.648704] BUG: scheduling while atomic: swapper/1/0/0x00000002",
            "[3.648708] Modules linked in:",
            "[3.648720] Preemption disabled at:[<c010e30c>] secondary_start_kernel+0xc4/0x134",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # EL7 syslog, an out-of-tree Wi-Fi driver
        "https://github.com/lwfinger/rtl8188eu/issues/246",
        ["Mar 14 10:01:44 ofc-gw kernel: BUG: scheduling while atomic: swapper/0/0/0x10000100"],
        1,
        1,
    ),
    (
        "kernel_bug",  # might_sleep's report (CONFIG_DEBUG_ATOMIC_SLEEP), /dev/kmsg format
        "https://github.com/IRATI/stack/issues/437",
        [
            "3,630,413574879,-;BUG: sleeping function called from invalid context at "
            "kernel/locking/mutex.c:586",
            "3,631,413574901,-;in_atomic(): 1, irqs_disabled(): 0, pid: 889, name: rina-echo-time",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",
        "https://github.com/IRATI/stack/issues/531",
        [
            "[78119.072295] BUG: sleeping function called from invalid context at mm/slub.c:966",
            "[78119.080609] in_atomic(): 1, irqs_disabled(): 0, pid: 0, name: swapper/1",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # a page freed in a bad state, with what the kernel found wrong
        "https://github.com/raspberrypi/firmware/issues/865",
        [
            "[93839.922189] BUG: Bad page state in process tvh:mtimer  pfn:02e44",
            "[93839.971231] page dumped because: page still charged to cgroup",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # EL7 syslog; the report's first line written twice, as quoted
        "https://github.com/microsoft/omi/issues/650",
        [
            "Nov  3 15:20:05 cafutststab1r11-rabbitmq-02 kernel: BUG: Bad page state in process "
            "omicli  pfn:2663ff",
            "Nov  3 15:20:05 cafutststab1r11-rabbitmq-02 kernel: BUG: Bad page state in process "
            "omicli  pfn:2663ff",
            "Nov  3 15:20:05 cafutststab1r11-rabbitmq-02 kernel: page dumped because: nonzero "
            "mapcount",
        ],
        1,
        2,
    ),
    (
        "kernel_bug",  # KASAN (6.6)
        "https://github.com/aircrack-ng/rtl8812au/issues/1200",
        [
            "[ 3369.295177] BUG: KASAN: use-after-free in idempotent_init_module+0x5d0/0x750",
            "[ 3369.295186] Read of size 8 at addr ffff88814c2afde8 by task insmod/17523",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # KASAN's older wording (4.x): "KASan", "use after free"; the slab
        # debugger's "BUG <cache> (...): kasan: bad access detected" of the same report is not
        # a second one
        "https://github.com/tempesta-tech/tempesta/issues/646",
        [
            "        [  797.730264] BUG: KASan: use after free in tfw_http_msg_free+0x2c9/0x340 "
            "[tempesta_fw] at addr ffff880d59947040",
            "        [  797.740360] Read of size 8 by task ksoftirqd/2/15",
            "        [  797.753308] BUG tfw_cli_conn_cache (Tainted: P    B      O   ): kasan: bad "
            "access detected",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # CONFIG_DEBUG_LIST: the corruption, then the WARNING that carries it
        "https://github.com/koverstreet/bcachefs/issues/693",
        [
            "[47985.623781] ------------[ cut here ]------------",
            "[47985.623784] list_add corruption. next->prev should be prev (ffff910309261548), "
            "but was ffff910487cb2d58. (next=ffff910487cb2d58).",
            "[47985.623793] WARNING: CPU: 2 PID: 3920 at lib/list_debug.c:29 "
            "__list_add_valid_or_report+0x74/0xc0",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # 4.9 (Debian): the WARNING first, then the corruption it reports
        "https://github.com/aabc/ipt-netflow/issues/73",
        [
            "Mar 12 13:22:14 egzos kernel: WARNING: CPU: 4 PID: 0 at /build/linux-8fxPc5/"
            "linux-4.9.6/lib/list_debug.c:62 netflow_target+0x68f/0xfd0 [ipt_NETFLOW]",
            "Mar 12 13:22:14 egzos kernel: list_del corruption. next->prev should be "
            "ffff92e8ae4f58f0, but was ffffffffc0633428",
        ],
        1,
        1,
    ),
    (
        "kernel_bug",  # a harmless WARN (a clock disabled twice) is no BUG report
        "https://github.com/LiBwrt/LibWrt/issues/91",
        [
            "------------[ cut here ]------------",
            "gcc_uniphy1_port5_rx_clk already disabled",
            "WARNING: CPU: 2 PID: 1083 at drivers/clk/clk.c:1181 clk_core_disable+0xa4/0xac",
            "CPU: 2 PID: 1083 Comm: kmodloader Tainted: G           O       6.6.65 #0",
        ],
        0,
        0,
    ),
    (
        "kernel_bug",  # nor an RCU WARN with the system running on
        "https://github.com/raspberrypi/linux/issues/1708",
        [
            "------------[ cut here ]------------",
            "WARNING: CPU: 1 PID: 0 at kernel/rcu/tree.c:2733 rcu_process_callbacks+0x6f8/0x738()",
            "CPU: 1 PID: 0 Comm: swapper/1 Not tainted 4.4.26-v7+ #915",
        ],
        0,
        0,
    ),
    (
        "kernel_panic",  # a non-fatal BUG is kernel_bug's, not a crash
        "https://github.com/IRATI/stack/issues/140",
        ["[  295.811418] BUG: scheduling while atomic: swapper/0/0/0x10000100"],
        0,
        0,
    ),
    # ------------------------------------------------------------------ lockup
    (
        "lockup",
        "https://github.com/madMAx43v3r/chia-plotter/issues/535",
        [
            " kernel:[405108.698255] watchdog: BUG: soft lockup - CPU#2 stuck for 22s! "
            "[chia_plot:29632]"
        ],
        1,
        1,
    ),
    (
        "lockup",  # the workqueue watchdog: a pool stuck, then its dump of busy workqueues
        "https://github.com/koverstreet/bcachefs/issues/37",
        [
            "2019-04-24T11:34:00.514575+02:00 jowisz kernel: [  752.907614] BUG: workqueue lockup "
            "- pool cpus=2 node=0 flags=0x0 nice=-20 stuck for 58s!",
            "2019-04-24T11:34:00.514655+02:00 jowisz kernel: [  752.914030] Showing busy "
            "workqueues and worker pools:",
        ],
        1,
        1,
    ),
    (
        "lockup",  # the same pool reported again while it stays stuck: two reports
        "https://github.com/openbmc/openbmc/issues/3440",
        [
            "[  853.105084] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for "
            "101s!",
            "[  853.105483] Showing busy workqueues and worker pools:",
            "[  889.880987] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for "
            "137s!",
        ],
        2,
        2,
    ),
    (
        "lockup",  # an unbound pool (no node=)
        "https://github.com/starfive-tech/linux/issues/18",
        ["[271072.624733] BUG: workqueue lockup - pool cpus=0-1 flags=0x4 nice=0 stuck for 2530s!"],
        1,
        1,
    ),
    (
        "lockup",  # older kernels: no "watchdog:" prefix
        "https://github.com/multipath-tcp/mptcp/issues/99",
        ["[2870707.887079] BUG: soft lockup - CPU#10 stuck for 23s! [migration/10:346]"],
        1,
        1,
    ),
    (
        "lockup",
        "https://github.com/TobleMiner/wintron7.0/issues/2",
        [
            "NMI watchdog: Watchdog detected hard LOCKUP on cpu 0",
            "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1",
        ],
        2,
        2,
    ),
    (
        "lockup",  # a hung task report and its trailer
        "https://github.com/ddnet/ddnet/issues/401",
        [
            "INFO: task DDRace64-Server:27090 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "DDRace64-Server D ffff88007a2dd140     0 27090   3047 0x00000000",
        ],
        1,
        2,
    ),
    (
        "lockup",  # a hung task as a dmesg reader quotes it: no "INFO:" prefix
        "https://github.com/leptonai/gpud/pull/405",
        [
            "task jfsmount:136986 blocked for more than 120 seconds.",
            '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
            "task:jfsmount        state:D stack:    0 pid: 9831 ppid:  9614 flags:0x00000004",
        ],
        1,
        2,
    ),
    (
        "lockup",  # several hung tasks in a row, a task name with ":" in it
        "https://github.com/sonic-net/sonic-buildimage/issues/4822",
        [
            "[26825.855448] INFO: task kworker/2:1:5747 blocked for more than 120 seconds.",
            "[26825.860651]       Tainted: G        W   E     4.19.0-6-amd64 #1 Debian "
            "4.19.67-2+deb10u2",
            '[26825.866477] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this '
            "message.",
            "[26825.873379] INFO: task ntpd:11794 blocked for more than 120 seconds.",
            '[26825.882849] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this '
            "message.",
        ],
        2,
        4,
    ),
    (
        "lockup",
        "https://github.com/cilium/tetragon/issues/328",
        ["[  103.087243] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"],
        1,
        1,
    ),
    (
        "lockup",
        "https://github.com/oxidecomputer/propolis/issues/1153",
        ["Jun 11 14:12:22 oxcolo kernel: rcu: INFO: rcu_preempt self-detected stall on CPU"],
        1,
        1,
    ),
    (
        "lockup",  # a task name (comm) with a space in it: an application thread's own name
        "https://github.com/Open-CAS/open-cas-linux/issues/746",
        [
            "[ 3073.899638] INFO: task FwgThread OpFor:15341 blocked for more than 120 seconds.",
            "[ 3073.910063]       Tainted: G           OE    --------- -  - "
            "4.18.0-240.el8.x86_64 #1",
            '[ 3073.921003] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this '
            "message.",
            "[ 3073.932070] FwgThread OpFor D    0 15341  15184 0x000040a0",
        ],
        1,
        2,
    ),
    # ------------------------------------------------------------------ segfault
    (
        "segfault",
        "https://github.com/shellinabox/shellinabox/issues/389",
        [
            "shellinaboxd[9571]: segfault at 0 ip 00007f182b2a6cad sp 00007fffcbe41740 error 4 in "
            "libc-2.12.so[7f182b240000+18a000]",
        ],
        1,
        1,
    ),
    (
        "segfault",  # one crash per pid, as the process is restarted
        "https://github.com/dlundquist/sniproxy/issues/86",
        [
            "[1423254.751712] sniproxy[7827]: segfault at 1000 ip 00007fbbeed70cba sp "
            "00007fff7179ecc0 error 4 in libc-2.13.so[7fbbeed2b000+182000]",
            "[1423281.360516] sniproxy[7864]: segfault at 1000 ip 00007f7f64763cba sp "
            "00007fff39c5a9c0 error 4 in libc-2.13.so[7f7f6471e000+182000]  ",
            "[1423335.440955] sniproxy[7915]: segfault at 1000 ip 00007fba681cccba sp "
            "00007fffaf704080 error 4 in libc-2.13.so[7fba68187000+182000]",
        ],
        3,
        3,
    ),
    (
        "segfault",  # newer kernels add "likely on CPU ..." and a Code: line
        "https://github.com/Spagett1/pineflash/issues/78",
        [
            "[  899.246083] pineflash[15246]: segfault at 1f ip 0000744df356f221 sp "
            "00007fff090a0020 error 4 in libc.so.6[744df34ca000+15b000] likely on CPU 1 (core 0, "
            "socket 0)",
            "[  899.246092] Code: 00 00 00 6a 00 6a 00 4c 8d 44 24 40 ff 90 50 03 00 00 48 8b 54",
        ],
        1,
        1,
    ),
    (
        "segfault",  # "ip (null)" on a 32-bit kernel
        "https://github.com/dlundquist/sniproxy/issues/21",
        [
            "Sep  2 05:57:32 localhost kernel: [ 2331.972494] sniproxy[28708]: segfault at 0 ip "
            "(null) sp bfebcbe0 error 14 in sniproxy[8048000+6000]",
        ],
        1,
        1,
    ),
    (
        "segfault",  # a user-space general protection trap
        "https://github.com/trusteddomainproject/OpenARC/issues/130",
        [
            "kernel: [920575.093899] traps: openarc[9640] general protection ip:55ff9fed033f "
            "sp:7f533f9ad240 error:0 in openarc[55ff9fec5000+13000] ",
        ],
        1,
        1,
    ),
    (
        "segfault",  # a 2.6.32 kernel (RHEL 6): the same trap line without `traps:`
        "https://github.com/apple/cups/issues/5687",
        [
            "cupsd[9073] general protection ip:7f3dd1338716 sp:7ffdadea62d8 error:0 in "
            "libc-2.12.so[7f3dd1210000+18b000]",
        ],
        1,
        1,
    ),
    (
        "segfault",  # an invalid opcode trap (quoted wrapped over three lines; one line logged)
        "https://github.com/abrt/abrt/pull/1219",
        [
            "traps: chrome[2979] trap invalid opcode ip:55911b28dba3 sp:7ffea558a3e0 error:0 in "
            "chrome[55911728a000+6a0b000]",
        ],
        1,
        1,
    ),
    (
        "segfault",
        "https://github.com/SolDoesTech/HyprV3/issues/18",
        ["archlinux systemd-coredump[835]: [🡕] Process 797 (swww) of user 1000 dumped core."],
        1,
        1,
    ),
    (
        "segfault",  # Firefox's content process ("Web Content", a comm with a space): a trap
        # and two segfaults, three processes; the mail wrapped each line at 72 columns, joined
        # here with a space where it broke
        "https://lore.kernel.org/lkml/836f7580-526d-52e2-5ceb-3cfd0b501970@xs4all.nl/",
        [
            "[106601.847053] traps: Web Content[270439] general protection fault "
            "ip:7f9acaa00d82 sp:7ffcb7bca6b0 error:0 in libxul.so[7f9ac6f7e000+4bf9000]",
            "[121178.597634] Web Content[270460]: segfault at ffffc955ffffc965 ip "
            "00007f338c1b366e sp 00007ffc5693fe70 error 5 in libxul.so[7f3387993000+4bf9000]",
            "[167164.401164] ThreadPoolForeg[475080]: segfault at 20c000000007 ip "
            "0000560103a34528 sp 00007f66acff7130 error 4 in "
            "skypeforlinux[560102f50000+5425000]",
        ],
        3,
        3,
    ),
    # ------------------------------------------------------------------ systemd_failure
    (
        "systemd_failure",  # a crash, its restart, then the start limit: the run failed, and
        # systemd refused the restart (a unit that ended again and again within seconds)
        "https://github.com/brocaar/chirpstack-application-server/issues/337",
        [
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Main process exited, "
            "code=exited, status=1/FAILURE",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Unit entered failed state.",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Failed with result "
            "'exit-code'.",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Service hold-off time over, "
            "scheduling restart.",
            "Jul 12 08:48:45 ubuntu systemd[1]: Stopped LoRa Server.",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Start request repeated too "
            "quickly.",
            "Jul 12 08:48:45 ubuntu systemd[1]: Failed to start LoRa Server.",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Unit entered failed state.",
            "Jul 12 08:48:45 ubuntu systemd[1]: loraserver.service: Failed with result "
            "'start-limit-hit'.",
        ],
        2,
        8,
    ),
    (
        "systemd_failure",  # the start limit right after a failed run: systemd keeps the run's
        # result ('exit-code'); the run and the refused restart are two failures
        "https://github.com/owfs/owfs/issues/116",
        [
            "owserver.service: Start request repeated too quickly.",
            "owserver.service: Failed with result 'exit-code'.",
            "Failed to start owserver.service - Backend server for 1-wire control.",
        ],
        2,
        3,
    ),
    (
        "systemd_failure",  # RestartSec=1s: the sixth automatic restart is refused
        "https://github.com/David00/rpi-power-monitor/issues/39",
        [
            "power-monitor.service: Service RestartSec=1s expired, scheduling restart.",
            "power-monitor.service: Scheduled restart job, restart counter is at 6.",
            "Stopped Raspberry Pi Power Monitor.",
            "power-monitor.service: Start request repeated too quickly.",
            "power-monitor.service: Failed with result 'start-limit-hit'.",
            "Failed to start Raspberry Pi Power Monitor.",
        ],
        2,
        3,
    ),
    (
        "systemd_failure",  # Restart=always without RestartSec: the fifth restart hits the limit
        "https://github.com/henrygd/beszel/pull/311",
        [
            "beszel-hub.service: Scheduled restart job, restart counter is at 5.",
            "beszel-hub.service: Start request repeated too quickly.",
            "beszel-hub.service: Failed with result 'start-limit-hit'.",
            "Failed to start Beszel Hub Service.",
        ],
        2,
        3,
    ),
    (
        "systemd_failure",  # a path-triggered unit started too often: refused, never restarted
        # by systemd and no run failed; one failure
        "https://github.com/balena-os/meta-balena/issues/1752",
        [
            "config-json.service: Start request repeated too quickly.",
            "config-json.service: Failed with result 'start-limit-hit'.",
            "Failed to start Config.json watcher service.",
        ],
        1,
        3,
    ),
    (
        "systemd_failure",  # an older systemd: failed state, then the start limit; one failure
        "https://github.com/NVIDIA/nvidia-container-runtime/issues/45",
        [
            "docker.service: Unit entered failed state.",
            "docker.service: Failed with result 'start-limit-hit'.",
        ],
        1,
        2,
    ),
    (
        "systemd_failure",  # systemd 215-era restart wording after a core dump: one failure
        "https://github.com/systemd/systemd/issues/13574",
        [
            "iot.service: main process exited, code=dumped, status=11/SEGV",
            "Unit iot.service entered failed state.",
            "iot.service holdoff time over, scheduling restart.",
        ],
        1,
        3,
    ),
    (
        "systemd_failure",  # a start that fails in ExecStartPre (journalctl -x annotations)
        "https://github.com/xorbit/LiFePO4wered-Pi/issues/63",
        [
            "Aug 27 12:26:08 docker4 systemd[1]: emonhub.service: Control process exited, "
            "code=exited, status=217/USER",
            "░░ Subject: Unit process exited",
            "Aug 27 12:26:08 docker4 systemd[1]: emonhub.service: Failed with result 'exit-code'.",
            "░░ The unit emonhub.service has entered the 'failed' state with result 'exit-code'.",
            "Aug 27 12:26:08 docker4 systemd[1]: Failed to start emonHub data multiplexer.",
        ],
        1,
        3,
    ),
    (
        "systemd_failure",  # systemd 215-era wording: lower-case "main", "Unit X entered ..."
        "https://github.com/rfjakob/earlyoom/issues/13",
        [
            "Feb 08 00:05:04 zoob systemd[1]: earlyoom.service: main process exited, "
            "code=exited, status=9/n/a",
            "Feb 08 00:05:04 zoob systemd[1]: Unit earlyoom.service entered failed state.",
        ],
        1,
        2,
    ),
    (
        "systemd_failure",  # a core dump
        "https://github.com/rfjakob/earlyoom/issues/321",
        [
            "Jul 18 08:23:18 server.name systemd[1]: earlyoom.service: Main process exited, "
            "code=dumped, status=31/SYS",
            "Jul 18 08:23:18 server.name systemd[1]: earlyoom.service: Failed with result "
            "'core-dump'.",
        ],
        1,
        2,
    ),
    (
        "systemd_failure",  # killed by systemd-oomd: SIGKILL is not a clean exit
        "https://github.com/systemd/systemd/pull/20690",
        OOMD_TESTBLOAT[-3:],  # PID 1's lines
        1,
        2,
    ),
    (
        "systemd_failure",  # systemd 23x: "code=exited status=1" and "<unit>: Unit entered ..."
        "https://github.com/OverC/meta-overc/pull/98",
        [
            "Jul 24 07:28:50 cube-essential systemd[1]: overc-conftools.service: Control process "
            "exited, code=exited status=1",
            "Jul 24 07:28:50 cube-essential systemd[1]: Failed to start OverC puppet system "
            "configuration.",
            "Jul 24 07:28:50 cube-essential systemd[1]: overc-conftools.service: Unit entered "
            "failed state.",
        ],
        1,
        3,
    ),
    (
        "systemd_failure",  # only the result line reached the log
        "https://github.com/getumbrel/umbrel/pull/1600",
        ["systemd[1]: umbrel-startup.service: Failed with result 'exit-code'."],
        1,
        1,
    ),
]

# ------------------------------------------------------------------ shutdown and boot
# An orderly reboot, as the hosts quoted below logged it; not failures, the judge's
# planned-reboot hold reads them (policy.planned_reboots).
SHUTDOWN_CASES: list[tuple[str, str, list[str], int, int]] = [
    (
        "shutdown",  # Qubes dom0 (Fedora), `journalctl -b -1` of a reboot that went well
        "https://github.com/QubesOS/qubes-issues/issues/1581",
        [
            "Sep 02 19:55:29 dom0 systemd-logind[1869]: System is rebooting.",
            "Sep 02 19:55:29 dom0 systemd[1]: Removed slice system-getty.slice.",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopping Accounts Service...",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopping Session 2 of user ctor.",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopped target Timers.",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopped target Graphical Interface.",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopped target Multi-User System.",
            "Sep 02 19:55:29 dom0 systemd[1]: Stopping Command Scheduler...",
        ],
        1,
        2,
    ),
    (
        "shutdown",  # TI AM62 board on 6.4-rc2: systemd-shutdown's last lines, the kernel's
        # reboot system call, and a WARNING the restart handler raised after it
        "https://lore.kernel.org/all/ZGeHMjlnob2GFyHF@francesco-nb.int.toradex.com/",
        [
            "[   80.117502] systemd-shutdown[1]: All loop devices detached.",
            "[   80.162682] systemd-shutdown[1]: Syncing filesystems and block devices.",
            "[   80.169602] systemd-shutdown[1]: Rebooting.",
            "[   80.173817] kvm: exiting hardware virtualization",
            "[   80.213016] reboot: Restarting system",
            "[   80.216767] ------------[ cut here ]------------",
            "[   80.221380] Voluntary context switch within RCU read-side critical section!",
        ],
        1,
        3,
    ),
    (
        "shutdown",  # OpenBMC: systemd-shutdown, journald told to stop, the kernel's restart
        "https://github.com/openbmc/openbmc/issues/2883",
        [
            "[ 1685.053900] systemd-shutdown[1]: Syncing filesystems and block devices.",
            "[ 1685.215027] systemd-shutdown[1]: Sending SIGTERM to remaining processes...",
            "[ 1685.250421] systemd-journald[1680]: Received SIGTERM from PID 1 (systemd-shutdow).",
            "[ 1685.268173] systemd-shutdown[1]: Sending SIGKILL to remaining processes...",
            "[ 3858.670000] systemd-shutdown[1]: All filesystems unmounted.",
            "[ 3858.890000] reboot: Restarting system",
        ],
        1,
        4,
    ),
    (
        "shutdown",  # logind's two lines when a reboot is asked for (AlmaLinux 9), quoted by
        # the kernel's regression tracker after the soft lockup that preceded them
        "https://lore.kernel.org/all/6e98d7b2-1068-4f05-a780-bad96ed5be27@leemhuis.info/",
        [
            "May 19 09:41:23 deyme18 systemd-logind[719]: The system will reboot now!",
            "May 19 09:41:23 deyme18 systemd-logind[719]: System is rebooting.",
        ],
        1,
        2,
    ),
    (
        "shutdown",  # Raspbian (systemd 215): the old "Stopping <target>." wording
        "https://github.com/MichaIng/DietPi/issues/813",
        [
            "Mar 18 14:28:13 AG systemd[1]: Stopping Multi-User System.",
            "Mar 18 14:28:13 AG systemd[1]: Stopped target Multi-User System.",
            "Mar 18 14:28:13 AG systemd[1]: Stopping OpenBSD Secure Shell server...",
        ],
        1,
        1,
    ),
    (
        "boot",  # PID 1 when the default target is reached (systemd 236 wording)
        "https://github.com/systemd/systemd/pull/7738",
        [
            "Dec 25 09:55:12 systemd[1]: Startup finished in 878ms (kernel) + 890ms (initrd) + "
            "5.827s (userspace) = 19.264s.",
        ],
        1,
        1,
    ),
    (
        "boot",  # an nspawn container's boot: the multi-user target, then startup finished
        "https://github.com/systemd/systemd/pull/3109",
        [
            "Apr 25 16:34:07 systemd-testsuite systemd[1]: Started Login Service.",
            "Apr 25 16:34:07 systemd-testsuite systemd[1]: Reached target Multi-User System.",
            "Apr 25 16:34:07 systemd-testsuite systemd[1]: Starting Update UTMP about System "
            "Runlevel Changes...",
            "Apr 25 16:34:08 systemd-testsuite systemd[1]: Startup finished in 6.945s.",
        ],
        1,
        2,
    ),
    (
        "boot",  # a BMC's boots over two months: each "Startup finished" line is one boot
        "https://github.com/openbmc/openbmc-test-automation/issues/357",
        [
            "Feb 07 10:40:42 witherspoon systemd[1]: Startup finished in 6.665s (kernel) + "
            "1min 31.684s (userspace) = 1min 38.349s.",
            "Feb 16 05:10:30 witherspoon systemd[1]: Startup finished in 6.680s (kernel) + "
            "1min 30.041s (userspace) = 1min 36.721s.",
        ],
        # Without times every line joins the event before it; the live probe and a
        # recording give times, and boots days apart are two (test below).
        1,
        2,
    ),
]
CASES += SHUTDOWN_CASES

# ------------------------------------------------------------------ a reboot announced
# A package run that leaves a reboot to do, as the package manager logs it (the judge's
# planned-reboot hold reads it: policy.planned_reboots.expected).
REBOOT_EXPECTED_CASES: list[tuple[str, str, list[str], int, int]] = [
    (
        "reboot_expected",  # apt's history.log entry of an `apt upgrade` that installed a
        # kernel image (Ubuntu 18.04), the package lists cut short here
        "https://github.com/marvel-nccr/quantum-mobile/issues/111",
        [
            "Start-Date: 2020-09-09  14:28:13",
            "Commandline: apt upgrade",
            "Requested-By: max (1001)",
            "Install: motd-news-config:amd64 (10.1ubuntu2.10, automatic), libllvm10:amd64 "
            "(1:10.0.0-4ubuntu1~18.04.2, automatic), linux-image-4.15.0-117-generic:amd64 "
            "(4.15.0-117.118, automatic), libpcre2-8-0:amd64 (10.31-2, automatic)",
            "Upgrade: libpam0g:amd64 (1.1.8-3.6ubuntu2.18.04.1, 1.1.8-3.6ubuntu2.18.04.2), "
            "netplan.io:amd64 (0.99-0ubuntu3~18.04.1, 0.99-0ubuntu3~18.04.3)",
        ],
        1,
        1,
    ),
    (
        "reboot_expected",  # dpkg.log while configuring a new kernel (format: dpkg(1), --log):
        # the versioned image and its meta package installed; headers and modules are no
        # image, half-configured is not done yet
        "https://github.com/zulip/zulip/issues/15743",
        [
            "2020-07-10 03:50:18 status half-configured linux-image-4.15.0-109-generic:amd64 "
            "4.15.0-109.110",
            "2020-07-10 03:50:20 status installed linux-image-4.15.0-109-generic:amd64 "
            "4.15.0-109.110",
            "2020-07-10 03:50:20 status triggers-pending linux-image-4.15.0-109-generic:amd64 "
            "4.15.0-109.110",
            "2020-07-10 03:50:20 status installed linux-modules-extra-4.15.0-109-generic:amd64 "
            "4.15.0-109.110",
            "2020-07-10 03:50:21 status installed linux-headers-generic:amd64 4.15.0.109.97",
            "2020-07-10 03:50:21 status half-configured linux-image-generic:amd64 4.15.0.109.97",
            "2020-07-10 03:50:21 status installed linux-image-generic:amd64 4.15.0.109.97",
        ],
        1,
        2,
    ),
]
CASES += REBOOT_EXPECTED_CASES

# ------------------------------------------------------------------ a restart asked for
# PID 1's job messages around `systemctl restart` (the judge's planned-restart hold reads
# them: policy.planned_restarts). Older systemd names the unit's Description= alone; v252 on
# logs "NAME - DESCRIPTION" (the combined format: https://github.com/flatcar/mantle/pull/411).
PG11_RESTART = [  # systemd 241 (Debian 10), PostgreSQL 11 restarted by an app's installer
    "Sep 18 19:37:10 systemd[1]: Stopping PostgreSQL Cluster 11-main...",
    "Sep 18 19:37:11 systemd[1]: postgresql@11-main.service: Succeeded.",
    "Sep 18 19:37:11 systemd[1]: Stopped PostgreSQL Cluster 11-main.",
    "Sep 18 19:37:11 systemd[1]: Starting PostgreSQL Cluster 11-main...",
    "Sep 18 19:37:15 systemd[1]: Started PostgreSQL Cluster 11-main.",
]
RESTART_CASES: list[tuple[str, str, list[str], int, int]] = [
    ("unit_stop", "https://github.com/YunoHost-Apps/gotosocial_ynh/issues/48", PG11_RESTART, 1, 1),
    ("unit_start", "https://github.com/YunoHost-Apps/gotosocial_ynh/issues/48", PG11_RESTART, 1, 1),
    (
        "unit_stop",  # newer systemd: the unit's name, then its description
        "https://github.com/mother-of-all-self-hosting/mash-playbook/issues/124",
        [
            "Dec 03 05:10:40 roundcube systemd[1]: Stopping mash-postgres.service - Postgres "
            "server (mash-postgres)...",
        ],
        1,
        1,
    ),
    (
        "unit_start",  # the combined format's start, as flatcar's tests match it
        "https://github.com/flatcar/mantle/pull/411",
        ["Started systemd-networkd.service - Network Configuration."],
        1,
        1,
    ),
]
CASES += RESTART_CASES

# ------------------------------------------------------------------ a database's own crash log
# What the database logs itself when it crashes (db_crash), for hosts whose kernel log is not
# shipped. Each report is one event; orderly stops and the lines every backend repeats are not.
PG_KILLED_RECOVERY = [  # PostgreSQL 12/13 in a container: a backend SIGKILLed, crash recovery
    "LOG:  server process (PID 24643) was terminated by signal 9: Killed",
    "LOG:  terminating any other active server processes",
    "WARNING:  terminating connection because of crash of another server process",
    "LOG:  all server processes terminated; reinitializing",
    "LOG:  database system was interrupted; last known up at 2021-11-26 16:51:16 UTC",
    "LOG:  database system was not properly shut down; automatic recovery in progress",
    "LOG:  redo is not required",
    "LOG:  database system is ready to accept connections",
]
DB_CRASH_CASES: list[tuple[str, str, list[str], int, int]] = [
    (
        "db_crash",
        "https://github.com/sclorg/postgresql-container/issues/396",
        PG_KILLED_RECOVERY,
        1,
        6,
    ),
    (
        "db_crash",  # PostgreSQL 12: a backend's segfault, the reset of every other backend
        "https://github.com/osm-search/Nominatim/issues/1551",
        [
            "2019-11-05 10:44:03.984 UTC [14627] LOG:  server process (PID 17717) was terminated "
            "by signal 11: Segmentation fault",
            "2019-11-05 10:44:03.984 UTC [14627] DETAIL:  Failed process was running: update "
            "placex set indexed_status = 0 where place_id = $1",
            "2019-11-05 10:44:03.984 UTC [14627] LOG:  terminating any other active server "
            "processes",
            "2019-11-05 10:44:03.985 UTC [17434] postgres@nominatim WARNING:  terminating "
            "connection because of crash of another server process",
            "2019-11-05 10:44:03.985 UTC [17434] postgres@nominatim DETAIL:  The postmaster has "
            "commanded this server process to roll back the current transaction and exit, "
            "because another server process exited abnormally and possibly corrupted shared "
            "memory.",
            "2019-11-05 10:44:03.985 UTC [17716] postgres@nominatim WARNING:  terminating "
            "connection because of crash of another server process",
        ],
        1,
        4,
    ),
    (
        "db_crash",  # PostgreSQL 10: an extension's background worker segfaults
        "https://github.com/CyberDem0n/bg_mon/issues/19",
        [
            "2018-11-09 07:54:18 UTC [22072]: [9499-1] user=,db= LOG:  worker process: bg_mon "
            "(PID 20867) was terminated by signal 11: Segmentation fault",
            "2018-11-09 07:54:18 UTC [22072]: [9501-1] user=,db= LOG:  terminating any other "
            "active server processes",
            "2018-11-09 07:54:18 UTC [20875]: [1-1] user=postgres,db=[unknown] WARNING:  "
            "terminating connection because of crash of another server process",
            "2018-11-09 07:54:19 UTC [3580]: [1-1] user=postgres,db=postgres FATAL:  the "
            "database system is in recovery mode",
        ],
        1,
        3,
    ),
    (
        "db_crash",  # four backends segfault one after another (a test run, as grep cut it)
        "https://github.com/powa-team/pg_qualstats/pull/17",
        [
            "2018-03-31 14:03:14.277 CEST [11164] LOG:  server process (PID 14725) was "
            "terminated by signal 11: Segmentation fault",
            "2018-03-31 14:04:41.872 CEST [11164] LOG:  server process (PID 14912) was "
            "terminated by signal 11: Segmentation fault",
            "2018-03-31 14:05:46.504 CEST [11164] LOG:  server process (PID 15028) was "
            "terminated by signal 11: Segmentation fault",
            "2018-03-31 14:05:46.504 CEST [11164] LOG:  terminating any other active server "
            "processes",
            "2018-03-31 14:06:57.693 CEST [11164] LOG:  server process (PID 15335) was "
            "terminated by signal 11: Segmentation fault",
        ],
        4,
        5,
    ),
    (
        "db_crash",  # PostgreSQL's own restart after a power cut: one event (no crash logged)
        "https://github.com/kubedb/docs/issues/125",
        [
            "LOG:  database system was interrupted; last known up at 2017-10-30 05:56:04 UTC",
            "FATAL:  the database system is starting up",
            "LOG:  database system was not properly shut down; automatic recovery in progress",
            "LOG:  invalid record length at 5/43CB66B8",
            "LOG:  redo is not required",
        ],
        1,
        1,
    ),
    (
        "db_crash",  # PostgreSQL 16 stopped (fast) and started: an orderly stop, no crash
        "https://github.com/CrunchyData/postgres-operator/issues/3798",
        [
            "LOG:  received fast shutdown request",
            "LOG:  aborting any active transactions",
            "FATAL:  terminating connection due to administrator command",
            "LOG:  shutting down",
            'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
        ],
        0,
        0,
    ),
    (
        "db_crash",  # MariaDB 10.1: the signal handler's crash report
        "https://github.com/badoo/pinba2/issues/8",
        [
            "181129  1:23:23 [ERROR] mysqld got signal 11 ;",
            "This could be because you hit a bug. It is also possible that this binary",
            "or one of the libraries it was linked against is corrupt, improperly built,",
            "something is definitely wrong and this may fail.",
            "Server version: 10.1.26-MariaDB",
        ],
        1,
        1,
    ),
    (
        "db_crash",  # MySQL 5.7 (Galera): the same report in MySQL's wording
        "https://github.com/mariadb-corporation/mysql-wsrep/issues/352",
        [
            "11:40:21 UTC - mysqld got signal 11 ;",
            "This could be because you hit a bug. It is also possible that this binary",
            "/usr/sbin/mysqld(handle_fatal_signal+0x479)[0x55f48c268309]",
        ],
        1,
        1,
    ),
    (
        "db_crash",  # MariaDB 10.6 restarting after it died: InnoDB's crash recovery
        "https://github.com/home-assistant/core/issues/92682",
        [
            "2023-05-06  8:31:34 0 [Note] InnoDB: Starting crash recovery from checkpoint "
            "LSN=42132,42132",
            "2023-05-06  8:31:35 0 [Note] InnoDB: Starting final batch to recover 87 pages from "
            "redo log.",
            "2023-05-06  8:31:35 0 [Note] mysqld: ready for connections.",
        ],
        1,
        1,
    ),
    (
        "db_crash",  # MongoDB 3.6: an invariant, the abort, the signal
        "https://github.com/mongodb-partners/mongo-rocks/issues/138",
        [
            "2018-02-23T18:13:47.231+0000 F - [conn52] Invariant failure slice.size() == "
            "sizeof(int64_t) src/mongo/db/modules/rocksdb/src/rocks_record_store.cpp 1008",
            "2018-02-23T18:13:47.231+0000 F - [conn52]",
            "***aborting after invariant() failure",
            "2018-02-23T18:13:47.260+0000 F - [conn52] Got signal: 6 (Aborted).",
        ],
        1,
        3,
    ),
    (
        "db_crash",  # an old mongod (TokuMX): a fatal assertion at start, the abort
        "https://github.com/Tokutek/mongo/issues/986",
        [
            "Mon Mar  3 00:11:12.129 [initandlisten] ",
            "***aborting after fassert() failure",
            "Mon Mar  3 00:11:12.129 Got signal: 6 (Aborted).",
            "Mon Mar  3 00:11:12.132 Backtrace:",
        ],
        1,
        2,
    ),
    (
        "db_crash",  # Redis 5.0: the bug report's start and its signal line
        "https://github.com/redis/redis/issues/6730",
        [
            "=== REDIS BUG REPORT START: Cut & paste starting from here ===",
            "1249:M 03 Jan 2020 11:22:26.911 # Redis 5.0.7 crashed by signal: 11",
            "1249:M 03 Jan 2020 11:22:26.911 # Crashed running the instruction at: 0x7f0410076830",
            "1249:M 03 Jan 2020 11:22:26.912 # Failed assertion: <no assertion failed> "
            "(<no file>:0)",
        ],
        1,
        2,
    ),
    (
        "db_crash",  # Redis 3.2 under supervisord, through syslog
        "https://github.com/redis/redis/issues/6133",
        [
            "May 25 00:50:27.794220 MyDUT INFO supervisord: redis-server === REDIS BUG REPORT "
            "START: Cut & paste starting from here ===",
            "May 25 00:50:27.794220 MyDUT INFO supervisord: redis-server 22:M 25 May "
            "00:50:27.791 # Redis 3.2.4 crashed by signal: 11",
            "May 25 00:50:27.795901 MyDUT INFO supervisord: redis-server 22:M 25 May "
            "00:50:27.792 # Crashed running the instuction at: 0x55a16c7fd6e8",
        ],
        1,
        2,
    ),
    (
        "db_crash",  # Redis 2.6 stopped by SIGTERM: an orderly stop, no crash
        "https://github.com/redis/redis/issues/1054",
        [
            "[1752 | signal handler] (1365998382) Received SIGTERM, scheduling shutdown...",
            "[1752] 15 Apr 12:59:42.800 # User requested shutdown...",
            "[1752] 15 Apr 12:59:42.800 # Redis is now ready to exit, bye bye...",
        ],
        0,
        0,
    ),
]
CASES += DB_CRASH_CASES

# A network adapter's transmit path hung: one event per hang, however many lines and reports.
NIC_HANG_CASES: list[tuple[str, str, list[str], int, int]] = [
    (
        "nic_hang",  # e1000e reports the hang every 2 s while it lasts: one hang
        "https://github.com/gislab-npo/gislab/issues/407",
        [
            "[ 9327.470501] e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
            "[ 9327.470501]   TDH                  <13>",
            "[ 9327.470501]   TDT                  <88>",
            "[ 9327.470501] PCI Status             <10>",
            "[ 9329.469310] e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
            "[ 9329.469310]   TDH                  <13>",
        ],
        1,
        2,
    ),
    (
        "nic_hang",  # syslog: the report, then the driver resetting the adapter
        "https://lore.kernel.org/netdev/1623942.pXzBnfQ100@rocinante.m.i2n/",
        [
            "kernel: e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
            "kernel:  TDH                  <5f>",
            "kernel: PCI Status             <10>",
            "kernel: e1000e 0000:00:19.0 eth0: Reset adapter unexpectedly",
        ],
        1,
        2,
    ),
    (
        "nic_hang",  # 3.14: the transmit watchdog's WARNING, igb, queue 5
        "https://github.com/multipath-tcp/mptcp/issues/61",
        [
            "Oct 15 19:26:35 11008211 kernel: ------------[ cut here ]------------",
            "Oct 15 19:26:35 11008211 kernel: WARNING: CPU: 6 PID: 0 at "
            "net/sched/sch_generic.c:264 dev_watchdog+0x154/0x20a()",
            "Oct 15 19:26:35 11008211 kernel: NETDEV WATCHDOG: eth2 (igb): transmit queue 5 "
            "timed out",
            "Oct 15 19:26:35 11008211 kernel: CPU: 6 PID: 0 Comm: swapper/6 Tainted: GF"
            "            3.14.19+ #3",
        ],
        1,
        1,
    ),
    (
        "nic_hang",  # 2.6.18: the watchdog's wording before multiqueue (no queue number)
        "https://lore.kernel.org/lkml/453BBC9E.4040300@google.com/",
        [
            "Oct 21 18:48:34 localhost kernel:   next_to_watch.status <0>",
            "Oct 21 18:48:35 localhost kernel: NETDEV WATCHDOG: eth0: transmit timed out",
            "Oct 21 18:48:36 localhost kernel: e1000: eth0: e1000_watchdog: NIC Link ",
        ],
        1,
        1,
    ),
    (
        "nic_hang",  # 6.x: the device first, the CPU and the time in ms (an r8125 driver)
        "https://github.com/csrutil/OpenWrt-NIC-Drivers/issues/11",
        [
            "[ 1356.296930] r8125 0000:22:04.0 eth4: NETDEV WATCHDOG: CPU: 3: transmit queue 0 "
            "timed out 5010 ms",
            "[ 1356.350008] r8125 0000:22:04.0 eth4: rtl_rxtx_empty_cond == 0 (loop: 42, delay: "
            "100).",
        ],
        1,
        1,
    ),
    (
        "nic_hang",  # r8168: the watchdog, then the driver's own reset
        "https://github.com/mtorromeo/r8168/issues/64",
        [
            "Mar 25 17:40:05 h1 kernel: r8168 0000:05:00.0 nic1: NETDEV WATCHDOG: CPU: 2: "
            "transmit queue 0 timed out 6464 ms",
            "Mar 25 17:40:05 h1 kernel: r8168 0000:05:00.0 nic1: Transmit timeout reset Device!",
        ],
        1,
        2,
    ),
    (
        "nic_hang",  # 6.10 (mtk_eth_soc): no CPU in the watchdog's line; the link up is none
        "https://github.com/frank-w/BPI-Router-Linux/issues/216",
        [
            "Aug 30 13:32:54 eth0: Link is Up - 10Gbps/Full",
            "Aug 30 13:32:59 eth0: NETDEV WATCHDOG: transmit queue 4 timed out",
        ],
        1,
        1,
    ),
    (
        "nic_hang",  # igb finds the hang itself, every 2 s; the link up before it is none
        "https://github.com/Avnu/OpenAvnu/issues/210",
        [
            "May  6 19:48:34 workstation kernel: [   82.771627] igb: eth0 NIC Link is Up 1000 "
            "Mbps Full Duplex, Flow Control: RX/TX",
            "May  6 19:48:46 workstation kernel: [   95.178723] igb 0000:09:00.0: Detected Tx "
            "Unit Hang",
            "May  6 19:48:46 workstation kernel: [   95.178723]   Tx Queue             <1>",
            "May  6 19:48:48 workstation kernel: [   97.178643] igb 0000:09:00.0: Detected Tx "
            "Unit Hang",
        ],
        1,
        2,
    ),
    (
        "nic_hang",  # ixgbe: the hang, its decision to reset, the reset: one hang
        "https://lore.kernel.org/netdev/d33f0ab4-4dc4-49cd-bbd0-055f58dd6758@hetzner-cloud.de/",
        [
            "ixgbe 0000:01:00.1 ixgbe-x520-2: Detected Tx Unit Hang (XDP)",
            "  Tx Queue             <4>",
            "ixgbe 0000:01:00.1 ixgbe-x520-2: tx hang 19 detected on queue 4, resetting adapter",
            "ixgbe 0000:01:00.1 ixgbe-x520-2: initiating reset due to tx timeout",
            "ixgbe 0000:01:00.1 ixgbe-x520-2: Reset adapter",
        ],
        1,
        4,
    ),
    (
        "nic_hang",  # i40e's recovery from a transmit timeout; the link's flap after it is none
        "https://github.com/appneta/tcpreplay/issues/183",
        [
            "Jun  3 09:03:26 x710sbprobe kernel: i40e 0000:08:00.1: eth9: tx_timeout recovery "
            "level 1",
            "Jun  3 09:03:27 x710sbprobe kernel: i40e 0000:08:00.1: eth9: NIC Link is Up 10 Gbps "
            "Full Duplex, Flow Control: None",
            "Jun  3 09:03:27 x710sbprobe kernel: i40e 0000:08:00.1: eth9: NIC Link is Down",
        ],
        1,
        1,
    ),
    (
        "nic_hang",  # ixgbe resetting after a link loss with frames queued: no hang
        "https://github.com/appneta/tcpreplay/issues/169",
        [
            "[72334.790042] ixgbe 0000:01:00.1 eth1: initiating reset to clear Tx work after "
            "link loss",
            "[72334.890056] ixgbe 0000:01:00.1 eth1: Reset adapter",
            "[72335.997160] ixgbe 0000:01:00.1 eth1: initiating reset to clear Tx work after "
            "link loss",
            "[72335.998362] ixgbe 0000:01:00.1 eth1: Reset adapter",
        ],
        0,
        0,
    ),
]
CASES += NIC_HANG_CASES


@pytest.mark.parametrize(
    ("preset", "source", "lines", "events", "matching"),
    CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
def test_real_reports_count_as_events(
    preset: str, source: str, lines: list[str], events: int, matching: int
) -> None:
    assert source.startswith("https://")
    found = _count(preset, lines)
    assert (found.events, found.lines) == (events, matching), source


# A task's name (comm) as the kernel prints it, with %s of task->comm: at most 15 characters,
# whatever the program or thread set (prctl PR_SET_NAME), spaces, "/", ":" and brackets
# included. The formats: kernel/hung_task.c "INFO: task %s:%d blocked for more than %ld
# seconds.", kernel/sched/core.c "BUG: scheduling while atomic: %s/%d/0x%08x",
# arch/x86/kernel/traps.c "traps: %s[%d] general protection fault ip:%lx sp:%lx error:%lx",
# mm/oom_kill.c ",task=%s,pid=%d,uid=%d" (the summary) and "Killed process %d (%s)". The
# names below are real: Open-CAS #746's thread, Firefox's content process cut to 15
# characters (quoted as "task=Isolated Web Co" in OOM reports), a kernel worker, systemd's
# "(sd-pam)".
@pytest.mark.parametrize(
    "comm", ["FwgThread OpFor", "Isolated Web Co", "Web Content", "kworker/u8:2", "(sd-pam)"]
)
def test_a_task_name_is_read_whole_whatever_it_holds(comm: str) -> None:
    assert _count("lockup", [f"INFO: task {comm}:4321 blocked for more than 120 seconds."]).events
    bug = f"BUG: scheduling while atomic: {comm}/4321/0x00000002"
    assert _count("kernel_bug", [bug]).events == 1
    trap = f"traps: {comm}[4321] general protection fault ip:7f01 sp:7ffc error:0 in libc.so.6"
    assert _count("segfault", [trap]).events == 1
    kill = _count(
        "oom",
        [
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
            f"global_oom,task_memcg=/user.slice,task={comm},pid=4321,uid=1000",
            f"Out of memory: Killed process 4321 ({comm}) total-vm:2682760kB, anon-rss:0kB, "
            "file-rss:99584kB, shmem-rss:148kB, UID:1000 pgtables:636kB oom_score_adj:100",
        ],
    )
    assert (kill.events, kill.lines, kill.names) == (1, 2, (comm,))


def test_a_task_name_longer_than_the_kernel_prints_is_no_hung_task() -> None:
    # 15 characters bound the name, so prose that merely says "task ... blocked for more than"
    # is not read as the kernel's report.
    line = "INFO: task queue of the nightly export:12 blocked for more than 120 seconds."
    assert _count("lockup", [line]).events == 0


def test_every_preset_but_app_error_has_a_cited_real_case() -> None:
    covered = {case[0] for case in CASES}
    assert covered == set(logevents.PRESETS) - {"app_error"}


def test_the_first_line_of_the_newest_event_is_the_message() -> None:
    _, _, lines, _, _ = CASES[1]  # stress-ng: a kill, then the next OOM begins
    found = _count("oom", lines)
    assert found.message == lines[3]
    _, _, lines, _, _ = next(c for c in CASES if "sonic-buildimage/issues/22166" in c[1])
    assert _count("kernel_panic", lines).message == lines[0]


def test_systemd_oom_lines_join_the_kernel_report_they_follow() -> None:
    # The kernel's report and systemd's account of the same kill are one event. Same formats
    # as the cited reports above (stress-ng#177 for the kernel lines, earlyoom#321 for the
    # "Failed with result" line); systemd's 'oom-kill' result is documented in
    # https://github.com/systemd/systemd/pull/29515 (service result table).
    lines = [
        "kernel: Out of memory: Killed process 1811 (java) total-vm:43240kB, anon-rss:0kB",
        "kernel: oom_reaper: reaped process 1811 (java), now anon-rss:0kB",
        "systemd[1]: app.service: A process of this unit has been killed by the OOM killer.",
        "systemd[1]: app.service: Failed with result 'oom-kill'.",
    ]
    assert (_count("oom", lines).events, _count("oom", lines).lines) == (1, 4)
    # Alone (the kernel log goes elsewhere), systemd's line is the event.
    assert _count("oom", lines[3:]).events == 1


def test_systemd_oomd_lines_that_are_not_kills_are_not_events() -> None:
    # Real lines around oomd kills that are not one: its start-up (systemd/systemd#31573),
    # its survey of candidates (#31573), the pressure it saw, a kill that failed and the
    # per-pid debug line (#22032); then formats from src/oom/oomd-manager.c and oomd-util.c:
    # the pressure/swap debug lines, a dry run, and a prekill hook.
    lines = [
        "mars 01 10:28:39 systemd[1]: Starting Userspace Out-Of-Memory (OOM) Killer...",
        "mars 01 10:28:39 systemd[1]: Started Userspace Out-Of-Memory (OOM) Killer.",
        "mars 01 14:37:27 systemd-oomd[666]: Considered 145 cgroups for killing, top candidates "
        "were:",
        "mars 01 14:37:27 systemd-oomd[666]:         Path: /user.slice/user-1000.slice/"
        "user@1000.service/app.slice/app-gnome-firefox\\x2dw-2504.scope",
        "mars 01 14:37:27 systemd-oomd[666]:                 Swap Usage: 477.8M",
        "Jan 09 14:32:25 H systemd-oomd[70]: Memory pressure for /user.slice/user-4711.slice/"
        "user@4711.service/testsuite.slice/testsuite-55.slice/testsuite-55-workload.slice is "
        "74.23% > 20.00% for > 2s with reclaim activity",
        "Jan 09 14:32:25 H systemd-oomd[70]: oomd attempting to kill 113 with KILL",
        "Jan 09 14:32:25 H systemd-oomd[70]: Failed to kill any cgroup(s) under /user.slice/"
        "user-4711.slice/user@4711.service/testsuite.slice/testsuite-55.slice/"
        "testsuite-55-workload.slice based on pressure: No such device",
        "systemd-oomd[70]: Memory used (32305733632) / total (33046286336) and swap used "
        "(8000000000) / total (8589930496) is more than 90.00%",
        "systemd-oomd[70]: oomd dry-run: Would have tried to kill "
        "/sys/fs/cgroup/system.slice/httpd.service and all its descendants",
        "systemd-oomd[70]: Invoking oomd prekill hook hook.sock for cgroup "
        "/system.slice/httpd.service",
    ]
    assert _count("oom", lines) == logevents.Found()


def test_each_oomd_kill_is_one_event_even_of_the_same_unit() -> None:
    # oomd kills again when the pressure stays (after its post-action delay): each notice is a
    # kill, also of a unit killed a minute before; PID 1's line and the unit's 'oom-kill'
    # result join their kill. Lines as in systemd/systemd#20690 and #24185 (formats above).
    kill = [
        "systemd-oomd[34]: Killed /system.slice/app.service due to memory pressure for "
        "/system.slice being 85.03% > 80.00% for > 20s with reclaim activity",
        "systemd[1]: app.service: systemd-oomd killed 3 process(es) in this unit.",
        "systemd[1]: app.service: Failed with result 'oom-kill'.",
    ]
    counter = logevents.Counter([logevents.PRESETS["oom"]])
    counter.feed_timed([(0.0, line) for line in kill] + [(60.0, line) for line in kill])
    # The victim, for a rule's ``processes``: the unit oomd killed. The units the kills'
    # first lines name (round 11: for a rule's ``units``), the slice as well, as
    # ``judge/units.py`` has always read such a line.
    assert counter.take() == logevents.Found(
        events=2,
        lines=6,
        message=kill[0],
        names=("app.service",),
        units=("system.slice", "app.service"),
    )
    # PID 1's line alone (oomd's own log read elsewhere) is the kill.
    assert _count("oom", kill[1:2]).events == 1
    # The older swap wording (systemd before the rule read memory too) is a kill as well.
    swap = (
        "systemd-oomd[34]: Killed /system.slice/app.service due to swap used (8000000000) / "
        "total (8589930496) being more than 90.00%"
    )
    assert _count("oom", [swap]).events == 1


def test_a_crash_loop_counts_every_crash() -> None:
    crash = [
        "systemd[1]: app.service: Main process exited, code=killed, status=9/KILL",
        "systemd[1]: app.service: Failed with result 'signal'.",
        "systemd[1]: app.service: Scheduled restart job, restart counter is at 1.",
    ]
    assert _count("systemd_failure", crash * 3).events == 3


def test_a_restart_systemd_scheduled_is_no_failure_by_itself() -> None:
    # Restart=always restarts clean exits too (a worker that exits after N jobs): the restart
    # lines say nothing failed; with the run's failure they add nothing either.
    # https://github.com/miniflux/v2/issues/339
    restart = "miniflux.service: Scheduled restart job, restart counter is at 5."
    assert _count("systemd_failure", [restart, restart]).events == 0
    crash = [
        "miniflux.service: Main process exited, code=exited, status=1/FAILURE",
        "miniflux.service: Failed with result 'exit-code'.",
        restart,
    ]
    assert _count("systemd_failure", crash).events == 1
    # ... and the message of an event is its first counted line, not a restart line.
    # https://github.com/David00/rpi-power-monitor/issues/39
    found = _count(
        "systemd_failure",
        [
            "power-monitor.service: Scheduled restart job, restart counter is at 6.",
            "power-monitor.service: Start request repeated too quickly.",
        ],
    )
    assert (found.events, found.message) == (
        2,
        "power-monitor.service: Start request repeated too quickly.",
    )


def test_a_refusal_counts_twice_once_only() -> None:
    # The refusal's second line (its result) adds nothing more: one run, one refused restart.
    # https://github.com/brocaar/chirpstack-application-server/issues/337
    lines = [
        "loraserver.service: Main process exited, code=exited, status=1/FAILURE",
        "loraserver.service: Start request repeated too quickly.",
        "loraserver.service: Failed with result 'start-limit-hit'.",
        "loraserver.service: Start request repeated too quickly.",
    ]
    assert _count("systemd_failure", lines).events == 2


def test_clean_exits_and_stops_are_not_failures() -> None:
    lines = [
        "systemd[1]: app.service: Main process exited, code=exited, status=0/SUCCESS",
        "systemd[1]: app.service: Main process exited, code=killed, status=15/TERM",
        "systemd[1]: app.service: Deactivated successfully.",
        "systemd[1]: Stopped App.",
        "systemd[1]: Started App.",
    ]
    assert _count("systemd_failure", lines).events == 0


def test_a_trailer_alone_is_not_an_event() -> None:
    # A WARNING's "---[ end trace ]---" or a hung-task hint with no report before them.
    assert _count("kernel_panic", ["---[ end trace 4d0f2bd2e1b6c8a1 ]---"]).events == 0
    hint = '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.'
    assert _count("lockup", [hint]).events == 0


def test_far_apart_reports_are_separate_events() -> None:
    panic = "Kernel panic - not syncing: Fatal exception"
    far = [panic, *(["kernel: eth0: link up"] * 500), panic]
    assert _count("kernel_panic", far).events == 2
    assert _count("kernel_panic", [panic, "kernel: eth0: link up", panic]).events == 1


def test_with_line_times_reports_minutes_apart_are_separate_events() -> None:
    # A recording keeps only the matching lines, so two panics ten minutes apart sit next to
    # each other; their times keep them apart. Lines of one report, seconds apart, stay one.
    panic = "Kernel panic - not syncing: Fatal exception"
    apart = logevents.Counter([logevents.PRESETS["kernel_panic"]])
    apart.feed_timed([(0.0, panic), (600.0, panic)])
    assert apart.take().events == 2
    close = logevents.Counter([logevents.PRESETS["kernel_panic"]])
    close.feed_timed([(0.0, "BUG: kernel NULL pointer dereference, address: 8"), (0.5, panic)])
    assert close.take().events == 1
    # Live, the lines of one read share its time; a read far later starts afresh.
    live = logevents.Counter([logevents.PRESETS["kernel_panic"]])
    live.feed([panic], time=100.0)
    live.feed([panic], time=100.0 + 121.0)
    assert live.take().events == 2


def test_non_fatal_kernel_bugs_seconds_apart_are_separate_events() -> None:
    # https://github.com/openzfs/zfs/issues/3309: `dmesg | grep BUG` over a day, kernel times
    # as quoted. Each free that found bad pages logs one line per page within a fraction of a
    # second: one event. Six bursts, seconds to hours apart, are six.
    quoted = [
        (5411.262757, "z_wr_iss  pfn:84f35"),
        (5411.320423, "z_wr_iss  pfn:84f36"),
        (5411.393046, "z_wr_iss  pfn:84f37"),
        (5417.148713, "kworker/u30:0  pfn:a85fc"),
        (5417.209609, "kworker/u30:0  pfn:a85fd"),
        (5417.273961, "kworker/u30:0  pfn:a85fe"),
        (5417.337150, "kworker/u30:0  pfn:a85ff"),
        (10447.797624, "z_wr_iss  pfn:810a5"),
        (10447.856466, "z_wr_iss  pfn:810a6"),
        (10447.928191, "z_wr_iss  pfn:810a7"),
        (14560.927347, "swapper/2  pfn:b330c"),
        (14560.964152, "swapper/2  pfn:b330d"),
        (14561.021068, "swapper/2  pfn:b330e"),
        (14561.078058, "swapper/2  pfn:b330f"),
        (16474.198475, "swapper/2  pfn:7cee9"),
        (16474.240584, "swapper/2  pfn:7ceea"),
        (16474.296262, "swapper/2  pfn:7ceeb"),
        (16502.914438, "swapper/2  pfn:23f1c"),
    ]
    lines = [(t, f"[{t:12.6f}] BUG: Bad page state in process {rest}") for t, rest in quoted]
    counter = logevents.Counter([logevents.PRESETS["kernel_bug"]])
    counter.feed_timed(lines)
    found = counter.take()
    assert (found.events, found.lines) == (6, 18)
    # Live, one read's lines share its time: a burst in one read is one event, and the
    # next read's report is another.
    atomic = "BUG: scheduling while atomic: wpa_supplicant/903/0x00000202"
    live = logevents.Counter([logevents.PRESETS["kernel_bug"]])
    live.feed([atomic, "Preemption disabled at:[<  (null)>]   (null)", atomic], time=100.0)
    live.feed([atomic], time=115.0)
    assert live.take().events == 2


def test_nic_hangs_more_than_30_seconds_apart_are_separate_events() -> None:
    # https://github.com/csrutil/OpenWrt-NIC-Drivers/issues/11: two r8125 ports' transmit
    # watchdog over 9 hours, kernel times as quoted (each with its rtl_rxtx_empty_cond line).
    # Reports 29 s apart (eth1, then eth4) are one hang of the host's network; the others,
    # minutes to hours apart, are a hang each: 6 of 7 reports.
    quoted = [
        (1356.296930, "22:04.0 eth4", 3, 5010),
        (3651.381145, "22:01.0 eth1", 0, 5010),
        (3680.140984, "22:04.0 eth4", 3, 5160),
        (16986.118987, "22:01.0 eth1", 0, 5290),
        (24736.933035, "22:04.0 eth4", 3, 5540),
        (28094.903314, "22:04.0 eth4", 3, 5110),
        (29949.187341, "22:01.0 eth1", 0, 5010),
    ]
    lines = [
        line
        for t, dev, cpu, ms in quoted
        for line in (
            (
                t,
                f"[{t:12.6f}] r8125 0000:{dev}: NETDEV WATCHDOG: CPU: {cpu}: transmit queue 0 "
                f"timed out {ms} ms",
            ),
            (
                t + 0.05,
                f"[{t + 0.05:12.6f}] r8125 0000:{dev}: rtl_rxtx_empty_cond == 0 (loop: "
                "42, delay: 100).",
            ),
        )
    ]
    counter = logevents.Counter([logevents.PRESETS["nic_hang"]])
    counter.feed_timed(lines)
    found = counter.take()
    assert (found.events, found.lines) == (6, 7)
    # Live, each read's lines share its time: a hang e1000e reports every 2 s for 30 s, read
    # every 15 s, is one event; the next, a minute later, another.
    hang = "e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:"
    live = logevents.Counter([logevents.PRESETS["nic_hang"]])
    for read in (100.0, 115.0, 130.0):
        live.feed([hang, "  TDH                  <81>"] * 7, time=read)
    live.feed([hang], time=190.0)
    again = live.take()
    assert (again.events, again.lines) == (2, 22)


def test_a_second_oops_with_another_number_is_another_event() -> None:
    lines = ["Oops: 0000 [#1] SMP NOPTI", "RIP: 0010:x+0x1/0x2", "Oops: 0002 [#2] SMP NOPTI"]
    assert _count("kernel_panic", lines).events == 2


def test_app_error_is_one_event_per_line() -> None:
    lines = ["2024-01-02 ERROR db down", "2024-01-02 ERROR db down"]
    assert _count("app_error", lines).events == 2


# --------------------------------------------------------------------------- user patterns


def _probe(**options: object) -> models.LogProbe:
    return models.LogProbe.model_validate({"kind": "log", "name": "app", "path": "/x", **options})


def test_user_patterns_count_lines_unless_grouping_is_configured() -> None:
    lines = ["ERROR a", "  at frame", "ERROR b"]
    counter = logs.counter_for(_probe(patterns=["ERROR"]))
    counter.feed(lines)
    assert counter.take() == logevents.Found(events=2, lines=2, message="ERROR b")


def test_user_grouping_by_distance_and_key() -> None:
    lines = [
        "req=1 ERROR timeout",
        "req=1 ERROR retry failed",
        "req=2 ERROR timeout",
        "noise",
        "req=2 ERROR retry failed",
    ]
    within = logs.counter_for(_probe(patterns=["ERROR"], event_lines=5))
    within.feed(lines)
    assert within.take().events == 1
    keyed = logs.counter_for(_probe(patterns=["ERROR"], event_lines=5, event_key=r"req=(\d+)"))
    keyed.feed(lines)
    assert (keyed.take().events, 5) == (2, 5)
    starts = logs.counter_for(
        _probe(patterns=["ERROR"], event_lines=5, event_start=["ERROR timeout"])
    )
    starts.feed(lines)
    assert starts.take() == logevents.Found(events=2, lines=4, message="req=2 ERROR timeout")


def test_user_patterns_come_first_then_presets_in_order() -> None:
    counter = logs.counter_for(_probe(patterns=["Killed process"], presets=["oom"]))
    counter.feed(["Out of memory: Killed process 1 (x)", "oom_reaper: reaped process 1 (x)"])
    # The first line is the user's event; the reaper line has no oom event to join: its own.
    assert counter.take().events == 2


def test_grouping_settings_without_patterns_are_refused() -> None:
    with pytest.raises(ValueError, match="group `patterns`"):
        _probe(presets=["oom"], event_lines=3)


def test_bad_grouping_settings_are_config_errors() -> None:
    with pytest.raises(errors.ConfigError, match="event_key"):
        logs.counter_for(_probe(patterns=["x"], event_key="no group"))
    with pytest.raises(errors.ConfigError, match="event_start"):
        logs.counter_for(_probe(patterns=["x"], event_start=["(unclosed"]))


def test_observation_text_says_events_and_lines_when_an_event_took_several() -> None:
    found = logevents.Found(events=1, lines=3, message="kernel: x invoked oom-killer\r")
    assert logs.describe(found) == "kernel: x invoked oom-killer [events=1 lines=3]"
    single = logevents.Found(events=2, lines=2, message="ERROR b")
    assert logs.describe(single) == "ERROR b"
    assert logs.describe(logevents.Found()) is None
    long = logevents.Found(events=1, lines=2, message="y" * 2000)
    text = logs.describe(long)
    assert text is not None
    assert text.endswith("[events=1 lines=2]")
    assert len(text) == 500


# --------------------------------------------------------------------------- real healthy noise

# Nor an orderly shutdown or a boot: Loghub's Linux sample has "cupsd shutdown succeeded"
# (a daemon's nightly restart), which is no reboot.
HOST_STATES = ("shutdown", "boot", "reboot_expected")
# Nor a unit's stop or start asked for (the planned-restart hold's presets).
JOBS = ("unit_stop", "unit_start")
# Every failure preset, then: the kernel's (oom, kernel_panic, kernel_bug, lockup, segfault),
# systemd_failure, and db_crash: no database crash report either; Hadoop's Java "FATAL" lines
# and Apache's "[error]" lines are not one.
KERNEL_FAILURES = tuple(sorted(set(logevents.PRESETS) - {"app_error", *HOST_STATES, *JOBS}))


@pytest.mark.may_skip  # optional data beside the repository (../shared/data), not a component
@pytest.mark.parametrize("sample", ["Linux_2k.log", "Apache_2k.log", "Hadoop_2k.log"])
def test_loghub_samples_hold_no_kernel_failure_events(sample: str) -> None:
    path = _SAMPLES / sample
    if not path.exists():
        pytest.skip(f"Loghub sample {path} is not on this machine (set ROLLSAFE_LOGHUB_DIR)")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(lines) == 2000
    for preset in (*KERNEL_FAILURES, *HOST_STATES):
        assert _count(preset, lines).events == 0, preset


# What app_error finds in them, checked so a change in its patterns is seen: the Linux syslog
# sample has no error-level lines ("authentication failure" is free text); the Apache sample's
# 595 are its real "[error]" lines (mostly mod_jk "workerEnv in error state"), the Hadoop
# sample's 152 its real "ERROR" lines (the MapReduce AM losing its ResourceManager). Those
# logs are error-heavy while healthy: app_error belongs in a rate against the host's own past,
# not a fixed count.
@pytest.mark.may_skip  # optional data beside the repository (../shared/data), not a component
@pytest.mark.parametrize(
    ("sample", "expected"), [("Linux_2k.log", 0), ("Apache_2k.log", 595), ("Hadoop_2k.log", 152)]
)
def test_app_error_on_loghub_samples_counts_their_error_level_lines(
    sample: str, expected: int
) -> None:
    path = _SAMPLES / sample
    if not path.exists():
        pytest.skip(f"Loghub sample {path} is not on this machine (set ROLLSAFE_LOGHUB_DIR)")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    found = _count("app_error", lines)
    assert found.events == found.lines == expected
    # Cross-check with each format's level field: Apache "[level]" after the date, Hadoop
    # "date time LEVEL [thread]" (a WARN line that later says "status: ERROR" is a WARN line).
    levels = [line.split("] [", 1)[1].split("]", 1)[0] if "] [" in line else "" for line in lines]
    levels = [lv or [*line.split(), "", "", ""][2] for lv, line in zip(levels, lines, strict=True)]
    assert sum(lv in {"error", "ERROR", "FATAL"} for lv in levels) == expected


# --------------------------------------------------------------------------- needles


_ALL_CUES = [
    (name, index, cue)
    for name, spec in logevents.PRESETS.items()
    for index, cue in enumerate(spec.cues)
]


@pytest.mark.parametrize(
    ("name", "index", "cue"), _ALL_CUES, ids=[f"{n}-{i}" for n, i, _ in _ALL_CUES]
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_line_a_cue_matches_holds_one_of_its_needles(
    name: str, index: int, cue: logevents.Cue, data: st.DataObject
) -> None:
    # The needles skip the regex on lines that cannot match: they must never skip one that
    # would. Lines drawn from the regex itself (any case, where it ignores case).
    assert cue.needles, f"{name} cue {index} has no needles"
    line = data.draw(st.from_regex(cue.regex))
    assert any(needle in line.lower() for needle in cue.needles), (name, index, line)


def test_needles_hold_on_every_real_case() -> None:
    for preset, source, lines, _, _ in CASES:
        for line in lines:
            for cue in logevents.PRESETS[preset].cues:
                if cue.regex.search(line):
                    assert any(n in line.lower() for n in cue.needles), (source, line)


# --------------------------------------------------------------------------- chunking


_REAL_LINES = [line for case in CASES for line in case[2]] + ["kernel: eth0: link up", "noise"]


@settings(max_examples=80, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_REAL_LINES), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_events_do_not_depend_on_where_the_reads_split_the_lines(
    lines: list[str], cuts: list[int]
) -> None:
    # The live probe reads the file in pieces (one per observation, 256 KiB chunks): the
    # events found must be the same however the lines are split between reads.
    specs = [logevents.PRESETS[name] for name in logevents.PRESETS]
    whole = logevents.Counter(specs)
    whole.feed(lines)
    expected = whole.take()
    pieces = logevents.Counter(specs)
    events = matching = 0
    bounds = sorted({0, len(lines), *(c for c in cuts if c <= len(lines))})
    for lo, hi in itertools.pairwise(bounds):
        pieces.feed(lines[lo:hi])
        found = pieces.take()
        events += found.events
        matching += found.lines
    assert (events, matching) == (expected.events, expected.lines)


# --------------------------------------------------------------------------- shutdowns


def test_boots_days_apart_are_separate_events_when_times_are_known() -> None:
    _, _, lines, _, _ = SHUTDOWN_CASES[-1]
    counter = logevents.Counter([logevents.PRESETS["boot"]])
    counter.feed_timed([(0.0, lines[0]), (9 * 86400.0, lines[1])])
    assert counter.take().events == 2


def test_daemon_restarts_alone_are_no_shutdown() -> None:
    # journald and rsyslogd restarted by a package upgrade log these without any reboot
    # (quoted wordings as in the Ubuntu 20.04 reboot log of the forum thread "Reboot shuts
    # down instead", 2022): they only join a shutdown already begun.
    lines = [
        "Jul 08 05:30:06 systemd-journald[557]: Journal stopped",
        'Jul 08 05:30:00 rsyslogd[195293]: [origin software="rsyslogd" swVersion="8.2001.0" '
        'x-pid="195293" x-info="https://www.rsyslog.com"] exiting on signal 15.',
        "Jul 08 05:30:00 systemd[1]: Stopping System Logging Service...",
        "Jul 08 05:30:00 systemd[1]: Stopped System Logging Service.",
        "Jun 19 04:08:57 combo cups: cupsd shutdown succeeded",
    ]
    assert _count("shutdown", lines).events == 0
    begun = ["Jul 08 05:30:00 systemd-logind[1445]: System is rebooting.", *lines]
    found = _count("shutdown", begun)
    assert (found.events, found.lines) == (1, 3)


def test_the_target_names_of_newer_systemd_are_shutdowns_too() -> None:
    # systemd 250 on writes "<unit> - <description>" (systemd.special(7) names the units).
    lines = [
        "Sep 17 17:37:50 host systemd[1]: Reached target reboot.target - System Reboot.",
        "Aug 16 18:57:34 n systemd[1]: Reached target poweroff.target - System Power Off.",
        "Jul 08 05:30:06 systemd[1]: Reached target Shutdown.",
        "Jul 08 05:30:06 systemd[1]: Reached target Final Step.",
        "Jul 08 05:30:06 systemd[1]: Reached target Reboot.",
        "Jul 08 05:30:06 systemd[1]: Shutting down.",
    ]
    for line in lines:
        assert _count("shutdown", [line]).events == 1, line
    # A boot reaches other targets: none of them is a shutdown.
    for line in [
        "Apr 25 16:34:07 systemd-testsuite systemd[1]: Reached target Multi-User System.",
        "gen 18 19:37:42 ifigenia systemd[1]: Reached target Remote File Systems.",
        "gen 18 19:37:42 ifigenia systemd[1]: Stopped target initrd-fs.target.",
    ]:
        assert _count("shutdown", [line]).events == 0, line


# Every crash, stall and failure report quoted above, and how a panic asks for a reboot: the
# kernel's own words (kernel/panic.c: "Rebooting in %d seconds.."), and sysrq's reset.
PANIC_REBOOTS = [
    "[  349.166130] sysrq: SysRq : Trigger a crash",
    "[  349.168127] Oops: Kernel access of bad area, sig: 11 [#1]",
    "[  359.170001] Rebooting in 10 seconds..",
    "[  359.170002] sysrq: Resetting",
    "[  359.170003] ---[ end Kernel panic - not syncing: Fatal exception ]---",
]


QUOTED_EVENTS = corpus_modules.quoted().EVENTS  # cited in corpus/quoted.py


def _corpus_quotes() -> list[str]:
    """The corpus's real kernel and systemd failure messages (corpus/quoted.py, cited there)."""
    return [
        line for event in QUOTED_EVENTS.values() if event.family != "benign" for line in event.lines
    ]


CRASH_LINES = [
    *(
        line
        for preset, _, lines, _, _ in CASES
        if preset not in (*HOST_STATES, *JOBS)
        for line in lines
    ),
    *OOMD_TESTBLOAT,
    *PANIC_REBOOTS,
    *_corpus_quotes(),
]


def test_no_crash_report_is_an_orderly_shutdown() -> None:
    # What the planned-reboot hold rests on: a crash never opens it.
    assert len(CRASH_LINES) > 200
    assert _count("shutdown", CRASH_LINES).events == 0
    assert _count("boot", CRASH_LINES).events == 0
    assert _count("reboot_expected", CRASH_LINES).events == 0  # nor announces a reboot


SHUTDOWN_LINES = {
    line for event in QUOTED_EVENTS.values() if event.family == "shutdown" for line in event.lines
}


def test_no_crash_report_is_a_stop_asked_for() -> None:
    # What the planned-restart hold rests on: a unit that crashed (and was restarted by
    # Restart=: "Scheduled restart job", "Stopped X.", "Starting X...") logged no stop job.
    # (A host shutting down stops its units too: the quoted shutdown is left out.)
    crashes = [line for line in CRASH_LINES if line not in SHUTDOWN_LINES]
    assert len(crashes) > 200
    assert _count("unit_stop", crashes).events == 0


def test_a_stop_and_a_start_are_told_apart_from_their_neighbours() -> None:
    found = _count("unit_stop", PG11_RESTART)
    assert found.message == PG11_RESTART[0]
    assert _count("unit_start", PG11_RESTART).message == PG11_RESTART[4]
    # "Stopped" is a stop done and "Starting" a start begun: neither is counted; nor is a
    # user manager's job (not PID 1) or a unit's own words.
    others = [
        "Sep 18 19:37:11 systemd[1]: Stopped PostgreSQL Cluster 11-main.",
        "Sep 18 19:37:11 systemd[1]: Starting PostgreSQL Cluster 11-main...",
        "Sep 18 19:37:11 systemd[1234]: Stopping Sound Service...",
        "Sep 18 19:37:11 app[99]: Stopping workers...",
    ]
    assert _count("unit_stop", others).events == 0
    assert _count("unit_start", others).events == 0


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(CRASH_LINES), max_size=60), st.randoms(use_true_random=False))
def test_crash_lines_in_any_order_and_mix_are_never_a_shutdown(
    picked: list[str], rnd: object
) -> None:
    counter = logevents.Counter([logevents.PRESETS["shutdown"]])
    counter.feed_timed([(float(i), line) for i, line in enumerate(picked)])
    assert counter.take().events == 0


def test_a_second_reboot_minutes_later_is_another_shutdown() -> None:
    _, _, lines, _, _ = SHUTDOWN_CASES[3]  # logind's two lines
    counter = logevents.Counter([logevents.PRESETS["shutdown"]])
    timed = [(0.0, lines[0]), (0.5, lines[1]), (95.0, lines[0])]  # a stop job's wait: the same
    counter.feed_timed(timed)
    assert counter.take().events == 1
    counter.feed_timed([(300.0, lines[0]), (300.5, lines[1])])  # rebooted again, 5 min later
    assert counter.take().events == 1


# --------------------------------------------------------------------------- reboots announced


def test_unattended_upgrades_announces_its_automatic_reboot() -> None:
    # unattended-upgrade's reboot_if_requested_and_needed() logs "Found %s, rebooting" (with
    # REBOOT_REQUIRED_FILE) just before it calls `shutdown -r`, in its log format: the time
    # with milliseconds, the level name, the message
    # (https://github.com/mvo5/unattended-upgrades/blob/master/unattended-upgrade); the
    # run's other lines as in https://github.com/mvo5/unattended-upgrades/issues/395.
    run = [
        "2026-05-29 11:51:57,191 INFO Starting unattended upgrades script",
        "2026-05-29 11:51:57,192 INFO Allowed origins are: origin=*",
        "2026-05-29 11:53:40,518 INFO All upgrades installed",
        "2026-05-29 11:53:41,002 WARNING Found /var/run/reboot-required, rebooting",
    ]
    found = _count("reboot_expected", run)
    assert (found.events, found.lines) == (1, 1)
    # With Automatic-Reboot-WithUsers false and somebody logged in it does not reboot.
    kept = (
        "2026-05-29 11:53:41,002 WARNING Found /var/run/reboot-required, but not rebooting "
        "because ['max'] is logged in."
    )
    assert _count("reboot_expected", [*run[:3], kept]).events == 0


def test_package_runs_that_need_no_reboot_announce_none() -> None:
    lines = [
        # apt removing packages (unattended-upgrades' autoremove entry quoted in
        # https://github.com/mvo5/unattended-upgrades/pull/40), with a line removing an old
        # kernel written here in the same format: removing a kernel needs no reboot
        "Start-Date: 2016-12-20  07:42:53",
        "Commandline: /usr/bin/unattended-upgrade",
        "Remove: libspeechd2:amd64 (0.8.3-1ubuntu3)",
        "Remove: linux-image-4.4.0-57-generic:amd64 (4.4.0-57.78)",
        "End-Date: 2016-12-20  07:43:03",
        # dpkg unpacking a kernel: not installed yet (https://github.com/moby/moby/issues/30036)
        "2017-01-10 15:40:57 startup archives unpack",
        "2017-01-10 15:40:57 install linux-image-4.4.0-59-generic:amd64 <none> 4.4.0-59.80",
        "2017-01-10 15:41:00 status unpacked linux-image-4.4.0-59-generic:amd64 4.4.0-59.80",
        # a service upgraded alone: its restart is the upgrade's, no reboot to wait for
        "Upgrade: nginx-common:amd64 (1.22.1-9, 1.22.1-9+deb12u1), nginx:amd64 (1.22.1-9, "
        "1.22.1-9+deb12u1)",
    ]
    assert _count("reboot_expected", lines).events == 0


def test_a_database_crash_loop_counts_every_crash_and_its_recovery_once() -> None:
    # PostgreSQL killed every 5 minutes (the sclorg report's lines, times added): each crash,
    # its reset and its crash recovery are one event; a crash recovery logged alone (the
    # server died without a word) is one event too, and a fast shutdown none.
    counter = logevents.Counter([logevents.PRESETS["db_crash"]])
    for n in range(3):
        counter.feed_timed(
            (300.0 * n + 0.01 * i, line) for i, line in enumerate(PG_KILLED_RECOVERY)
        )
    assert (counter.take().events, counter.take().events) == (3, 0)
    counter.feed_timed(
        [
            (1000.0, "LOG:  received fast shutdown request"),
            (1001.0, "FATAL:  terminating connection due to administrator command"),
            (
                1010.0,
                "LOG:  database system was not properly shut down; automatic recovery in progress",
            ),
        ]
    )
    found = counter.take()
    assert (found.events, found.lines) == (1, 1)
